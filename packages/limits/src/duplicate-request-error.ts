/**
 * An admission reused the request id of a reservation the store still remembers (reserved, settled or
 * released within the retention window). Request ids key reservations, so the data plane must admit each
 * request under an id it generated itself, never a client-supplied one alone. Nothing was consumed.
 */
export class DuplicateRequestError extends Error {
  readonly requestId: string;

  constructor(requestId: string) {
    super(`Request id ${JSON.stringify(requestId)} already has a reservation`);
    this.name = 'DuplicateRequestError';
    this.requestId = requestId;
  }
}
