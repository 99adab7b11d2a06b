export { startMockBackend, type MockBackend, type MockBackendDeps } from './service.js';
export { buildMockBackendApp, BACKEND_ID_HEADER, type MockBackendAppDeps } from './app.js';
export {
  loadConfig,
  resolveConfig,
  DEFAULT_CONFIG,
  DEFAULT_FAULT_SETTINGS,
  type MockBackendConfig,
  type MockBackendOptions,
  type FaultSettings,
} from './config.js';
export {
  countPromptTokens,
  countCompletionTokens,
  completionPieces,
  completionText,
  DEFAULT_MAX_TOKENS,
  type TokenCountableMessage,
  type CompletionTokenLimits,
  type CompletionTokenCount,
} from './token-accounting.js';
export { FAULT_HEADERS, type RequestFaults } from './request-faults.js';
export { REDACTED_MARKER, REDACTED_HEADERS, type RecordedRequest } from './request-recorder.js';
export type { ChatCompletion, ChatCompletionChunk } from './chat-completion-wire.js';
export type { Usage } from './completion-plan.js';
export type { ModelList } from './routes/models-route.js';
export type { OpenAIErrorBody } from './openai-error.js';
