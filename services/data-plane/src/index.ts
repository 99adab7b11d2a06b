// Public surface of the data-plane package: what tests and tooling start it with.
export {
  DEFAULT_HTTP_SETTINGS,
  DEFAULT_POLICY_SYNC_SETTINGS,
  loadDataPlaneConfig,
  type DataPlaneConfig,
  type HttpSettings,
  type PolicySyncSettings,
} from './config.js';
export { startDataPlane, type DataPlane, type DataPlaneDeps } from './service.js';
export {
  createGrpcRecordIngestTransport,
  RECORD_TOPICS,
  type GrpcRecordIngestTransport,
  type GrpcRecordIngestTransportOptions,
  type ShippableRecord,
} from './records/grpc-record-ingest-transport.js';
