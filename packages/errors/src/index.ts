export { ERROR_CATALOGUE, ERROR_CODES, type ErrorCode } from './error-codes.js';
export { RouterError, toRouterError, type RouterErrorOptions } from './router-error.js';
