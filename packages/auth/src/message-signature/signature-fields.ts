import {
  type BareItem,
  type InnerList,
  type Item,
  type Parameters,
  isInnerList,
  parseDictionary,
  serializeDictionary,
  serializeInnerList,
} from 'structured-headers';
import { MAX_COVERED_COMPONENTS } from './covered-components.js';
import { getFieldValue } from './header-map.js';
import type { HeaderMap } from './header-map.js';

/** Parameters of one signature (RFC 9421 §2.3) that this implementation reads; others are kept but ignored. */
export interface SignatureParameters {
  /** Unix seconds. */
  readonly created?: number;
  /** Unix seconds. */
  readonly expires?: number;
  readonly nonce?: string;
  readonly keyid?: string;
  readonly alg?: string;
  readonly tag?: string;
}

/** One signature taken from the Signature-Input and Signature fields. */
export interface ParsedSignature {
  readonly label: string;
  /** Covered component identifiers, lower-case, in signing order, no duplicates. */
  readonly components: readonly string[];
  readonly parameters: SignatureParameters;
  /** The inner list re-serialised canonically: the value of the `@signature-params` base line. */
  readonly signatureParams: string;
  readonly signature: Uint8Array;
}

export type ParseSignatureResult =
  | { readonly ok: true; readonly signature: ParsedSignature }
  | { readonly ok: false; readonly reason: 'missing_signature' | 'malformed' };

/** Longer Signature or Signature-Input fields are rejected before parsing (a cheap bound on work). */
export const MAX_SIGNATURE_FIELD_LENGTH = 8192;

const LABEL = /^[a-z*][a-z0-9_.*-]*$/;
const INTEGER_PARAMETERS = new Set(['created', 'expires']);
const STRING_PARAMETERS = new Set(['nonce', 'keyid', 'alg', 'tag']);

/**
 * Parses the signature labelled `label` (default: the first one in Signature-Input) from RFC 8941
 * dictionaries in the Signature-Input and Signature fields. Never throws: absent fields or label →
 * `missing_signature`; anything that is not a well-formed inner list of plain string components with
 * correctly typed parameters and a byte-sequence signature → `malformed`.
 */
export function parseSignatureFields(headers: HeaderMap, label?: string): ParseSignatureResult {
  const inputField = getFieldValue(headers, 'signature-input');
  const signatureField = getFieldValue(headers, 'signature');
  if (inputField === undefined || signatureField === undefined) {
    return { ok: false, reason: 'missing_signature' };
  }
  if (inputField.length > MAX_SIGNATURE_FIELD_LENGTH || signatureField.length > MAX_SIGNATURE_FIELD_LENGTH) {
    return { ok: false, reason: 'malformed' };
  }
  let inputs: Map<string, Item | InnerList>;
  let signatures: Map<string, Item | InnerList>;
  try {
    inputs = parseDictionary(inputField);
    signatures = parseDictionary(signatureField);
  } catch {
    // A parse error is the client's malformed field: reported as a reason, not thrown.
    return { ok: false, reason: 'malformed' };
  }
  const chosenLabel = label ?? inputs.keys().next().value;
  const input = chosenLabel === undefined ? undefined : inputs.get(chosenLabel);
  if (chosenLabel === undefined || input === undefined) {
    return { ok: false, reason: 'missing_signature' };
  }
  const signatureItem = signatures.get(chosenLabel);
  if (
    signatureItem === undefined ||
    isInnerList(signatureItem) ||
    !(signatureItem[0] instanceof ArrayBuffer)
  ) {
    return { ok: false, reason: 'malformed' };
  }
  if (!isInnerList(input)) {
    return { ok: false, reason: 'malformed' };
  }
  const components = readComponents(input[0]);
  const parameters = readParameters(input[1]);
  if (components === undefined || parameters === undefined) {
    return { ok: false, reason: 'malformed' };
  }
  return {
    ok: true,
    signature: {
      label: chosenLabel,
      components,
      parameters,
      signatureParams: serializeInnerList(input),
      signature: new Uint8Array(signatureItem[0]),
    },
  };
}

function readComponents(items: readonly Item[]): string[] | undefined {
  // Bounds the duplicate check below (quadratic) and the field look-ups of the signature base.
  if (items.length > MAX_COVERED_COMPONENTS) return undefined;
  const components: string[] = [];
  for (const [value, parameters] of items) {
    // Component parameters (;sf ;key ;bs ;req) change how a value is derived; unsupported, so refused
    // rather than silently signing something else.
    if (typeof value !== 'string' || parameters.size > 0 || value !== value.toLowerCase()) {
      return undefined;
    }
    if (components.includes(value)) {
      return undefined;
    }
    components.push(value);
  }
  return components;
}

function readParameters(parameters: Parameters): SignatureParameters | undefined {
  const result: Record<string, string | number> = {};
  for (const [name, value] of parameters) {
    if (INTEGER_PARAMETERS.has(name)) {
      if (!isInteger(value)) {
        return undefined;
      }
      result[name] = value;
    } else if (STRING_PARAMETERS.has(name)) {
      if (typeof value !== 'string') {
        return undefined;
      }
      result[name] = value;
    }
  }
  return result;
}

function isInteger(value: BareItem): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}

/**
 * The inner list for Signature-Input (and the `@signature-params` base line): covered components in
 * order, then the parameters in the order given. Throws on an invalid component or parameter value
 * (a programming error on the signing side).
 */
export function serializeSignatureParams(
  components: readonly string[],
  parameters: SignatureParameters,
): string {
  const parameterMap: Parameters = new Map();
  for (const [name, value] of Object.entries(parameters)) {
    if (value !== undefined) {
      parameterMap.set(name, value);
    }
  }
  const items = components.map((component): Item => [component, new Map<string, BareItem>()]);
  return serializeInnerList([items, parameterMap]);
}

/** `<label>=<inner list>`, the Signature-Input field value for a single signature. */
export function serializeSignatureInputField(label: string, signatureParams: string): string {
  if (!LABEL.test(label)) {
    throw new TypeError(`signature label ${JSON.stringify(label)} is not a structured-field key`);
  }
  return `${label}=${signatureParams}`;
}

/** `<label>=:<base64>:`, the Signature field value for a single signature. */
export function serializeSignatureField(label: string, signature: Uint8Array): string {
  return serializeDictionary(new Map([[label, [signature, new Map()]]]));
}
