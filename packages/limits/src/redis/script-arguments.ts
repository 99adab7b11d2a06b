/**
 * A script call's arguments after the script itself (numkeys, keys, argv). Values are single arguments; an
 * {@link EncodedGroup} is several whose wire form was built once (a plan's keys and check spec, the same for
 * every request of the plan).
 */
export type ScriptArgument = string | number | EncodedGroup;

/** One argument in the Redis protocol (RESP): a bulk string. */
function bulk(value: string | number): string {
  const text = typeof value === 'number' ? String(value) : value;
  return `$${Buffer.byteLength(text)}\r\n${text}\r\n`;
}

/** Arguments that always travel together, encoded once. */
export class EncodedGroup {
  readonly values: readonly string[];
  /** The values as consecutive RESP bulk strings. */
  readonly wire: string;

  constructor(values: readonly (string | number)[]) {
    this.values = values.map(String);
    this.wire = this.values.map(bulk).join('');
  }
}

/** The arguments' count and wire form (what follows the command name and script in the request). */
export function encodeArguments(args: readonly ScriptArgument[]): { count: number; wire: string } {
  let count = 0;
  let wire = '';
  for (const arg of args) {
    if (arg instanceof EncodedGroup) {
      count += arg.values.length;
      wire += arg.wire;
    } else {
      count += 1;
      wire += bulk(arg);
    }
  }
  return { count, wire };
}

/** The arguments as plain values, groups expanded (for ioredis's own command helpers). */
export function argumentValues(args: readonly ScriptArgument[]): (string | number)[] {
  return args.flatMap((arg): readonly (string | number)[] =>
    arg instanceof EncodedGroup ? arg.values : [arg],
  );
}
