import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { ConnectRouter } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import {
  PolicySyncService,
  type PolicySnapshot,
  type ReportPolicyStatusRequest,
  type WatchPolicyRequest,
} from '@api-router/contracts';

/** One open WatchPolicy stream: snapshots queued for it and a wake-up for its generator. */
interface Subscriber {
  queue: PolicySnapshot[];
  wake: (() => void) | undefined;
}

/**
 * A control plane stand-in built on the same stack as the real one (ConnectRPC's node adapter on an h2c
 * server), so the data plane's grpc-js client talks to a real gRPC server. The test decides what to push,
 * including snapshots the real control plane would never send (older versions).
 */
export class FakePolicyServer {
  readonly watchRequests: WatchPolicyRequest[] = [];
  readonly reports: ReportPolicyStatusRequest[] = [];
  #latest: PolicySnapshot | undefined;
  readonly #subscribers = new Set<Subscriber>();
  readonly #server: http2.Http2Server;
  readonly #sessions = new Set<http2.ServerHttp2Session>();

  private constructor() {
    this.#server = http2.createServer(connectNodeAdapter({ routes: (router) => this.#routes(router) }));
    this.#server.on('session', (session) => {
      this.#sessions.add(session);
      session.once('close', () => this.#sessions.delete(session));
    });
  }

  /** Starts a server on 127.0.0.1:`port` (0 = any free port). */
  static async start(port = 0, initial?: PolicySnapshot): Promise<FakePolicyServer> {
    const server = new FakePolicyServer();
    server.#latest = initial;
    await new Promise<void>((resolve, reject) => {
      server.#server.once('error', reject);
      server.#server.listen(port, '127.0.0.1', () => resolve());
    });
    return server;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Makes `snapshot` the latest and pushes it to every open stream. */
  publish(snapshot: PolicySnapshot): void {
    this.#latest = snapshot;
    for (const subscriber of this.#subscribers) {
      subscriber.queue.push(snapshot);
      subscriber.wake?.();
    }
  }

  /** Like a crash: drops every connection at once (streams end with an error), then stops listening. */
  async close(): Promise<void> {
    for (const session of this.#sessions) session.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #routes(router: ConnectRouter): void {
    router.service(PolicySyncService, {
      watchPolicy: (request, context) => this.#watch(request, context.signal),
      reportPolicyStatus: (request) => {
        this.reports.push(request);
        return {};
      },
    });
  }

  async *#watch(request: WatchPolicyRequest, signal: AbortSignal) {
    this.watchRequests.push(request);
    const subscriber: Subscriber = { queue: [], wake: undefined };
    if (this.#latest !== undefined && this.#latest.version !== request.activeVersion) {
      subscriber.queue.push(this.#latest);
    }
    this.#subscribers.add(subscriber);
    const onAbort = (): void => subscriber.wake?.();
    signal.addEventListener('abort', onAbort);
    try {
      while (!signal.aborted) {
        const next = subscriber.queue.shift();
        if (next !== undefined) {
          yield { snapshot: next };
          continue;
        }
        await new Promise<void>((resolve) => {
          subscriber.wake = resolve;
        });
        subscriber.wake = undefined;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.#subscribers.delete(subscriber);
    }
  }
}
