type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Completion fields every chunk repeats after its id and object, in OpenAI's order; each when present. */
const CHUNK_HEAD_FIELDS = ['created', 'model', 'service_tier', 'system_fingerprint'] as const;

/**
 * Message fields streamed after the role, one chunk each, in this order: reasoning (vLLM, DeepSeek,
 * OpenRouter) comes before the answer, as those servers stream it.
 */
const TEXT_FIELDS = ['reasoning_content', 'reasoning', 'content', 'refusal'] as const;

/**
 * The chat.completion.chunk events an OpenAI-compatible backend streams for `completion` (a whole
 * chat.completion, already accepted by parseCompletion), as SSE text ending with `data: [DONE]`. For a
 * backend that ignored `stream: true`. Each choice gets a role chunk, then a chunk per generated field
 * (text, refusal, reasoning; tool calls with their `index`; a legacy `function_call`), then its
 * finish_reason (with the choice's logprobs, if any); then, when the completion has usage, the usage chunk
 * with no choices (the router always asks for usage and drops it for a client that did not).
 */
export function completionAsSse(completion: Json): string {
  const head: Json = { id: completion.id, object: 'chat.completion.chunk' };
  for (const field of CHUNK_HEAD_FIELDS) {
    if (completion[field] !== undefined) head[field] = completion[field];
  }
  const chunk = (rest: Json): string => sseData({ ...head, ...rest });
  let text = '';
  const choices = Array.isArray(completion.choices) ? (completion.choices as unknown[]) : [];
  choices.forEach((choice, position) => {
    if (!isObject(choice)) return;
    const index = typeof choice.index === 'number' ? choice.index : position;
    const delta = (fields: Json): string =>
      chunk({ choices: [{ index, delta: fields, finish_reason: null }] });
    const message = isObject(choice.message) ? choice.message : {};
    text += delta({ role: typeof message.role === 'string' ? message.role : 'assistant' });
    for (const field of TEXT_FIELDS) {
      const value = message[field];
      if (typeof value === 'string' && value !== '') text += delta({ [field]: value });
    }
    if (Array.isArray(message.tool_calls) && message.tool_calls.length > 0) {
      // A stream's tool-call fragments carry the call's position: clients accumulate by it.
      const toolCalls = (message.tool_calls as unknown[]).map((call, callIndex) =>
        isObject(call) ? { index: callIndex, ...call } : call,
      );
      text += delta({ tool_calls: toolCalls });
    }
    if (isObject(message.function_call)) text += delta({ function_call: message.function_call });
    const finish: Json = { index, delta: {}, finish_reason: choice.finish_reason ?? null };
    if (choice.logprobs !== undefined && choice.logprobs !== null) finish.logprobs = choice.logprobs;
    text += chunk({ choices: [finish] });
  });
  if (completion.usage !== undefined && completion.usage !== null) {
    text += chunk({ choices: [], usage: completion.usage });
  }
  return `${text}data: [DONE]\n\n`;
}

function sseData(value: Json): string {
  return `data: ${JSON.stringify(value)}\n\n`;
}
