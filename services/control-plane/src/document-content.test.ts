import { describe, expect, it } from 'vitest';
import { hasNoContent } from './document-content.js';

describe('hasNoContent', () => {
  it.each([
    '',
    '\n\n',
    '\uFEFF  \r\n\t\r\n',
    '# header comment only\n  # indented comment\n',
    '%YAML 1.2\n---\n...\n',
    '--- # start\n# nothing\n... # end\n',
  ])('sees no content in %j', (text) => {
    expect(hasNoContent(text)).toBe(true);
  });

  it.each(['{}', 'apiKeys: []\n', '# comment\ntenants: []\n', '---\n[]\n', '~\n', '--- {}\n', 'x'])(
    'sees content in %j',
    (text) => {
      expect(hasNoContent(text)).toBe(false);
    },
  );
});
