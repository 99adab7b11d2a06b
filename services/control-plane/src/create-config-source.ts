import { Etcd3 } from 'etcd3';
import type { Logger } from 'pino';
import type { ConfigSourceConfig } from './config.js';
import type { ConfigSource } from './config-source.js';
import { EtcdConfigSource } from './etcd-config-source.js';
import { FileConfigSource } from './file-config-source.js';

/**
 * Builds the configured source. For etcd the returned source owns its client: `close()` stops the watch,
 * then closes the client.
 */
export function createConfigSource(config: ConfigSourceConfig, logger: Logger): ConfigSource {
  if (config.kind === 'file') {
    return new FileConfigSource({ routerPath: config.routerPath, policiesPath: config.policiesPath, logger });
  }
  const client = new Etcd3({ hosts: [...config.endpoints] });
  const source = new EtcdConfigSource({ client, prefix: config.prefix, logger });
  return {
    kind: source.kind,
    start: (listener) => source.start(listener),
    close: async () => {
      await source.close();
      client.close();
    },
  };
}
