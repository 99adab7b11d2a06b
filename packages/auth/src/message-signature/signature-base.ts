import { getComponentValue } from './component-value.js';
import { parseRequestTarget } from './request-target.js';
import type { SignableRequest } from './signable-request.js';

export type SignatureBaseResult =
  | { readonly ok: true; readonly base: string }
  | { readonly ok: false; readonly problem: 'unsupported' | 'absent'; readonly component: string };

/**
 * The RFC 9421 §2.5 signature base: one `"<component>": <value>` line per covered component, in order,
 * then the `"@signature-params"` line. `signatureParams` is the serialised inner list exactly as it appears
 * in Signature-Input (`("@method" "@path");created=…;keyid="…"`).
 * Fails, naming the component, when a component is unsupported or absent from the request.
 */
export function createSignatureBase(
  components: readonly string[],
  signatureParams: string,
  request: SignableRequest,
): SignatureBaseResult {
  const target = parseRequestTarget(request);
  const lines: string[] = [];
  for (const component of components) {
    const result = getComponentValue(component, request, target);
    if (!result.ok) {
      return { ok: false, problem: result.problem, component };
    }
    lines.push(`"${component}": ${result.value}`);
  }
  lines.push(`"@signature-params": ${signatureParams}`);
  return { ok: true, base: lines.join('\n') };
}
