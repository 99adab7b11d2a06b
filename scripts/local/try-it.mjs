// What the launcher prints once the router runs: its endpoints and requests to copy (scripts/start-local.mjs).
import { join } from 'node:path';
import { shellWord, shownPath } from './shell-text.mjs';

/** DEMO-ONLY API key of configs/policies.sample.yaml (its sha256 is in the file). */
const DEMO_KEY = 'rk_demo01.YmUUyWFXfjfbBZ-cVLPCiTtQOV2YgbSUDT9XKQxfTGA';

/** The line above the printed requests: whose credentials they use (`policiesConfig`: the user's file). */
function tryItHeading(policiesConfig) {
  if (policiesConfig === undefined) {
    return 'Try it (demo credentials from configs/*.sample.yaml; change them before any real use):';
  }
  return (
    `Try it (with the demo key of configs/policies.sample.yaml, which ${shownPath(policiesConfig)} ` +
    'must hold for these to work; else use a key of yours):'
  );
}

/**
 * Endpoints and requests to copy. `summary`: what endpoints.json holds; `run`: the gRPC port, the user's
 * policies file (undefined for the demo one), the demo signing secret's file and the checkout's root.
 */
export function tryItText(summary, run) {
  const { dataPlane, controlPlaneHttp } = summary;
  const { grpcPort, policiesConfig, signingSecretFile, root } = run;
  const key = `-H 'Authorization: Bearer ${DEMO_KEY}'`;
  const json = "-H 'content-type: application/json'";
  const hello = '{"model":"demo-chat","messages":[{"role":"user","content":"Hello"}]}';
  const helloStream = '{"model":"demo-chat","stream":true,"messages":[{"role":"user","content":"Hello"}]}';
  const inference =
    '{"model":"demo-chat","messages":[{"role":"user","content":"Hello"}],"max_output_tokens":8}';
  return `
API router is running (policy version ${summary.policyVersion}).
  data plane     ${dataPlane}
  control plane  ${controlPlaneHttp}  (admin API, metrics)   gRPC policy sync on 127.0.0.1:${grpcPort}

${tryItHeading(policiesConfig)}
  # OpenAI-compatible chat completion (add -i to see the x-router-* metric headers)
  curl -s ${dataPlane}/v1/chat/completions ${key} ${json} \\
       -d '${hello}'
  # The router's own API: completion, usage and a "router" block (request id, backend, attempts, latencies)
  curl -s ${dataPlane}/v1/inference ${key} ${json} \\
       -d '${inference}'
  # Streaming (server-sent events)
  curl -sN ${dataPlane}/v1/chat/completions ${key} ${json} \\
       -d '${helloStream}'
  # The models this key may use
  curl -s ${dataPlane}/v1/models ${key}
  # A request signed with RFC 9421 HMAC instead of the key (secret in ${signingSecretFile}):
  # the reference signer prints a curl command with Signature-Input, Signature and Content-Digest; sh runs it
  node ${shellWord(join(root, 'packages/auth/dist/cli/sign-request.js'))} --key-id rk_demo01 --secret-file ${shellWord(signingSecretFile)} \\
       --method POST --url ${dataPlane}/v1/chat/completions --header 'content-type: application/json' \\
       --data '${hello}' | sh

  curl -s ${dataPlane}/readyz
  curl -s ${dataPlane}/metrics | grep -E '^router_(requests|overhead|policy)'
  curl -s -H 'Authorization: Bearer admin-demo-token-change-me' -H 'Content-Type: application/json' \\
       -d '{}' ${controlPlaneHttp}/router.v1.AdminService/ListDataPlanes

Press Ctrl-C to stop.
`;
}
