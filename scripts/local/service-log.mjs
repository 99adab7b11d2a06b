// What the launcher shows of its services' log lines without LOCAL_VERBOSE (scripts/start-local.mjs).

/**
 * The services' pino level: LOG_LEVEL, but never quieter than info, because the launcher learns each URL
 * from the service's info-level `listening` line (with warn it waited for ever, printing nothing), and
 * shows config rejections from warn-level lines. It shows the services' other lines only with LOCAL_VERBOSE
 * anyway (and errors always). Unknown levels go as given: the service refuses them at start.
 */
export function serviceLogLevel(level = 'info') {
  return ['warn', 'error', 'fatal', 'silent'].includes(level) ? 'info' : level;
}

/**
 * Log messages shown without LOCAL_VERBOSE although only warnings: a config the control plane rejects, or a
 * snapshot a data plane rejects, leaves the router serving the last good (or the persisted) policy, and
 * nothing else tells the user that their edit is not what runs. The services log these under these fixed
 * messages (services/control-plane/src/snapshot-publisher.ts, services/data-plane/src/policy/
 * policy-holder.ts).
 */
const REJECTIONS = new Set([
  'config rejected; keeping last good snapshot',
  'config source failed; keeping last good snapshot',
  'policy rejected',
]);
/** Issues listed per rejected config; the rest are counted (GetConfigStatus has the first one too). */
const MAX_ISSUES_SHOWN = 5;

/** Picks the service log records to show whatever LOCAL_VERBOSE says, and remembers a rejected config. */
export class ServiceLogRelay {
  /** Set when the control plane rejected the config (or a data plane the snapshot): told again once ready. */
  configRejected = false;

  /** The text to show for a service's log record, or undefined for none. */
  shown(record) {
    if (REJECTIONS.has(record.msg)) {
      this.configRejected = true;
      return rejectionText(record);
    }
    // After a rejection was shown, the fix that follows is shown too (else the last word would be the
    // error); "unchanged" when the fix restores what the snapshot being served came from.
    if ((record.msg === 'snapshot published' || record.msg === 'config unchanged') && this.configRejected) {
      this.configRejected = false;
      return `config accepted again: serving snapshot ${record.version}`;
    }
    if (!(record.level >= 50)) return undefined;
    // An error's reason is in its err (e.g. "control plane failed to start" because the config is invalid
    // and nothing was persisted): the message alone said that something failed, not what.
    const reason = typeof record.err?.message === 'string' ? `: ${record.err.message}` : '';
    return `${record.msg}${reason}`;
  }
}

/** A rejection record as lines a user can act on: which file, where, and why. */
function rejectionText(record) {
  if (record.msg === 'policy rejected') {
    const active = `still serving version ${record.activeVersion}`;
    return `policy rejected (version ${record.version}): ${record.reason}; ${active}`;
  }
  const issues = Array.isArray(record.issues)
    ? record.issues
    : [{ source: record.source, path: '', line: 0, message: record.reason }];
  const where = (issue) =>
    `${issue.source ?? '?'}${issue.line > 0 ? `:${issue.line}` : ''}${issue.path ? ` ${issue.path}` : ''}`;
  const listed = issues.slice(0, MAX_ISSUES_SHOWN).map((issue) => `\n    ${where(issue)}: ${issue.message}`);
  const more = issues.length > MAX_ISSUES_SHOWN ? `\n    … and ${issues.length - MAX_ISSUES_SHOWN} more` : '';
  return `${record.msg}${listed.join('')}${more}`;
}
