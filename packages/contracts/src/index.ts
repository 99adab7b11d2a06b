// Public surface of the generated contracts. Everything under ./gen is produced by `buf generate`
// (protoc-gen-es) and must never be edited by hand.
export * from './gen/router/v1/policy_pb.js';
export * from './gen/router/v1/policy_sync_pb.js';
export * from './gen/router/v1/admin_pb.js';
export * from './gen/router/v1/usage_pb.js';
export * from './gen/router/v1/audit_pb.js';
export * from './gen/router/v1/inference_pb.js';
export * from './gen/router/v1/record_ingest_pb.js';
