type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Completion fields taken from the chunks (the last value streamed), in OpenAI's order around `choices`. */
const HEAD_FIELDS = ['id', 'created', 'model'] as const;
const TAIL_FIELDS = ['usage', 'service_tier', 'system_fingerprint'] as const;

/** Delta fields whose pieces are concatenated: the answer, a refusal, reasoning (vLLM, DeepSeek, OpenRouter). */
const TEXT_FIELDS = ['content', 'refusal', 'reasoning_content', 'reasoning'] as const;

/** Fields handled one by one; any other field is copied as streamed (the last value wins), as the SDKs do. */
const CHUNK_FIELDS = new Set<string>(['object', 'choices', ...HEAD_FIELDS, ...TAIL_FIELDS]);
// A chunk's choice has no `message` (its delta is one): a server's stray one would replace the assembled one.
const CHOICE_FIELDS = new Set<string>(['index', 'delta', 'message', 'logprobs', 'finish_reason']);
const DELTA_FIELDS = new Set<string>(['role', 'tool_calls', 'function_call', ...TEXT_FIELDS]);
const TOOL_CALL_FIELDS = new Set<string>(['index', 'id', 'type', 'function']);

/** One choice as its chunks built it up. */
interface ChoiceParts {
  readonly index: number;
  role: string | undefined;
  readonly text: Map<(typeof TEXT_FIELDS)[number], string>;
  /** By the `index` each fragment carries. */
  readonly toolCalls: Map<number, ToolCallParts>;
  functionCall: { name: string; arguments: string } | undefined;
  /** `content` and `refusal` token arrays concatenated; other fields as streamed. */
  logprobs: Json | undefined;
  finishReason: unknown;
  readonly messageRest: Json;
  readonly choiceRest: Json;
}

interface ToolCallParts {
  id: string | undefined;
  type: string | undefined;
  name: string;
  arguments: string;
  readonly rest: Json;
}

/**
 * The chat.completion that the chunks of a stream add up to, as the OpenAI SDKs' `finalChatCompletion()`
 * builds it: for a backend that answered a request for a whole completion with a stream (some servers stream
 * by default or ignore the flag). `data` holds the data of the stream's events in order, up to its end
 * marker; data that is not a JSON object (not a chunk) is skipped, as the streaming routes skip it.
 *
 * Per choice (by its `index`): the last `role` (`assistant` when none came); `content`, `refusal` and
 * reasoning concatenated (`content` and `refusal` null when none came, as in OpenAI's answers: a
 * tool-call-only answer has no content); `tool_calls` by their `index` (id, type, name as last streamed,
 * arguments concatenated); a legacy `function_call` likewise; the last `finish_reason`; `logprobs` with
 * their token arrays concatenated. The completion's `id`, `created`, `model`, `service_tier`,
 * `system_fingerprint` and `usage` are the last ones streamed (OpenAI repeats them on every chunk and sends
 * `usage: null` but on the usage chunk). Undefined when no chunk came: no completion.
 */
export function completionFromSse(data: readonly string[]): Json | undefined {
  const head: Json = {};
  const tail: Json = {};
  const rest: Json = {};
  const choices = new Map<number, ChoiceParts>();
  let chunks = 0;
  for (const text of data) {
    const chunk = parseObject(text);
    if (chunk === undefined) continue;
    chunks += 1;
    for (const field of HEAD_FIELDS) setIfPresent(head, field, chunk[field]);
    for (const field of TAIL_FIELDS) setIfPresent(tail, field, chunk[field]);
    copyOthers(rest, chunk, CHUNK_FIELDS);
    if (!Array.isArray(chunk.choices)) continue;
    for (const choice of chunk.choices as unknown[]) {
      if (isObject(choice)) addChoice(choices, choice);
    }
  }
  if (chunks === 0) return undefined;
  return {
    ...head,
    object: 'chat.completion',
    choices: [...choices.values()].sort((a, b) => a.index - b.index).map(finishChoice),
    ...tail,
    ...rest,
  };
}

function addChoice(choices: Map<number, ChoiceParts>, choice: Json): void {
  const index = typeof choice.index === 'number' ? choice.index : 0;
  let parts = choices.get(index);
  if (parts === undefined) {
    parts = {
      index,
      role: undefined,
      text: new Map(),
      toolCalls: new Map(),
      functionCall: undefined,
      logprobs: undefined,
      finishReason: null,
      messageRest: {},
      choiceRest: {},
    };
    choices.set(index, parts);
  }
  if (choice.finish_reason !== undefined && choice.finish_reason !== null) {
    parts.finishReason = choice.finish_reason;
  }
  if (isObject(choice.logprobs)) addLogprobs(parts, choice.logprobs);
  copyOthers(parts.choiceRest, choice, CHOICE_FIELDS);
  if (isObject(choice.delta)) addDelta(parts, choice.delta);
}

function addDelta(parts: ChoiceParts, delta: Json): void {
  if (typeof delta.role === 'string' && delta.role !== '') parts.role = delta.role;
  for (const field of TEXT_FIELDS) {
    const piece = delta[field];
    if (typeof piece === 'string' && piece !== '')
      parts.text.set(field, (parts.text.get(field) ?? '') + piece);
  }
  if (Array.isArray(delta.tool_calls)) {
    (delta.tool_calls as unknown[]).forEach((fragment, position) => {
      if (isObject(fragment)) addToolCall(parts.toolCalls, fragment, position);
    });
  }
  if (isObject(delta.function_call)) {
    const { name, arguments: args } = delta.function_call;
    const call = (parts.functionCall ??= { name: '', arguments: '' });
    if (typeof name === 'string' && name !== '') call.name = name;
    if (typeof args === 'string') call.arguments += args;
  }
  copyOthers(parts.messageRest, delta, DELTA_FIELDS);
}

/**
 * A tool call's fragment: the first carries its id, type and name, the next ones pieces of its arguments;
 * all carry the call's `index`. A fragment without one (a server that sends each call whole) is placed by
 * its position in the delta.
 */
function addToolCall(calls: Map<number, ToolCallParts>, fragment: Json, position: number): void {
  const index = typeof fragment.index === 'number' ? fragment.index : position;
  let call = calls.get(index);
  if (call === undefined) {
    call = { id: undefined, type: undefined, name: '', arguments: '', rest: {} };
    calls.set(index, call);
  }
  if (typeof fragment.id === 'string' && fragment.id !== '') call.id = fragment.id;
  if (typeof fragment.type === 'string' && fragment.type !== '') call.type = fragment.type;
  if (isObject(fragment.function)) {
    const { name, arguments: args } = fragment.function;
    if (typeof name === 'string' && name !== '') call.name = name;
    if (typeof args === 'string') call.arguments += args;
  }
  copyOthers(call.rest, fragment, TOOL_CALL_FIELDS);
}

/**
 * Token logprobs come a few per chunk: their arrays (`content`, `refusal`) are concatenated, into arrays of
 * our own (appended to, not copied per chunk); a null never replaces what came before it.
 */
function addLogprobs(parts: ChoiceParts, logprobs: Json): void {
  const sum: Json = (parts.logprobs ??= {});
  for (const [field, value] of Object.entries(logprobs)) {
    if (field === '__proto__') continue;
    const held = sum[field];
    if (Array.isArray(value)) {
      if (Array.isArray(held)) for (const item of value as unknown[]) held.push(item);
      else sum[field] = [...(value as unknown[])];
    } else if (value !== null || held === undefined) {
      sum[field] = value;
    }
  }
}

function finishChoice(parts: ChoiceParts): Json {
  const message: Json = {
    role: parts.role ?? 'assistant',
    content: parts.text.get('content') ?? null,
    refusal: parts.text.get('refusal') ?? null,
  };
  for (const field of ['reasoning_content', 'reasoning'] as const) {
    const text = parts.text.get(field);
    if (text !== undefined) message[field] = text;
  }
  if (parts.toolCalls.size > 0) {
    message.tool_calls = [...parts.toolCalls.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, call]) => ({
        ...call.rest,
        id: call.id,
        type: call.type ?? 'function',
        function: { name: call.name, arguments: call.arguments },
      }));
  }
  if (parts.functionCall !== undefined) message.function_call = parts.functionCall;
  Object.assign(message, parts.messageRest);
  return {
    index: parts.index,
    message,
    logprobs: parts.logprobs ?? null,
    finish_reason: parts.finishReason,
    ...parts.choiceRest,
  };
}

function parseObject(text: string): Json | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function setIfPresent(target: Json, field: string, value: unknown): void {
  if (value !== undefined && value !== null) target[field] = value;
}

/**
 * Copies the fields not in `handled` (null aside: OpenAI streams `usage: null` and the like). `__proto__`, a
 * plain own key in parsed JSON, would set the target's prototype through an assignment: skipped.
 */
function copyOthers(target: Json, source: Json, handled: ReadonlySet<string>): void {
  for (const field of Object.keys(source)) {
    if (handled.has(field) || field === '__proto__') continue;
    setIfPresent(target, field, source[field]);
  }
}
