/** The text of one config document and where it came from. */
export interface ConfigDocument {
  /** File path or etcd key; only used in error messages. */
  source: string;
  /** YAML text. */
  text: string;
}

/** The two documents the Config Service holds: router.yaml and policies.yaml. */
export interface ConfigDocuments {
  router: ConfigDocument;
  policies: ConfigDocument;
}

/** A path inside a document, as object keys and array indexes. */
export type ConfigPath = readonly (string | number)[];

/** Formats a path the way operators read it: `routes[2].targets[0].weight`; "" for the root. */
export function formatConfigPath(path: ConfigPath): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else text += text === '' ? segment : `.${segment}`;
  }
  return text;
}
