/**
 * Internationalized domain names without Node: RFC 3492 punycode and the part of UTS #46 mapping
 * that domain names met in practice need, so the console (bundled for the browser), the CLI and
 * the server turn the same typed name into the same ASCII name. Pure: no Node-only imports.
 *
 * The mapping follows what Node's `url.domainToASCII` (WHATWG URL, UTS #46 non-transitional)
 * does for the names people type: full-width and compatibility forms folded (NFKC), upper case
 * lowered one character at a time (Σ becomes σ wherever it stands; ß and ς stay), the ideographic
 * full stops read as dots, invisible characters UTS #46 ignores (soft hyphen, zero-width space,
 * variation selectors, BOM) dropped. Stricter than Node on purpose: any remaining control, format
 * (ZWJ/ZWNJ included), private-use, unassigned or space character refuses the name. test/unit/
 * domain-list.test.ts holds the two to the same answers on a table of names.
 */

const BASE = 36;
const T_MIN = 1;
const T_MAX = 26;
const SKEW = 38;
const DAMP = 700;
const INITIAL_BIAS = 72;
const INITIAL_N = 128;
const MAX_CODE_POINT = 0x10ffff;

function adapt(delta: number, numPoints: number, firstTime: boolean): number {
  let d = firstTime ? Math.floor(delta / DAMP) : delta >> 1;
  d += Math.floor(d / numPoints);
  let k = 0;
  while (d > ((BASE - T_MIN) * T_MAX) >> 1) {
    d = Math.floor(d / (BASE - T_MIN));
    k += BASE;
  }
  return k + Math.floor(((BASE - T_MIN + 1) * d) / (d + SKEW));
}

const digitChar = (d: number) => String.fromCharCode(d < 26 ? 97 + d : 22 + d);

function digitOf(c: number): number {
  if (c >= 48 && c <= 57) return c - 22; // 0-9 -> 26-35
  if (c >= 65 && c <= 90) return c - 65; // A-Z
  if (c >= 97 && c <= 122) return c - 97; // a-z
  return BASE;
}

/** RFC 3492 encoding of one label (without the `xn--` prefix). */
export function punycodeEncode(label: string): string {
  const input = Array.from(label, (c) => c.codePointAt(0)!);
  let out = input
    .filter((c) => c < 0x80)
    .map((c) => String.fromCharCode(c))
    .join('');
  const basic = out.length;
  let handled = basic;
  if (basic > 0) out += '-';
  let n = INITIAL_N;
  let delta = 0;
  let bias = INITIAL_BIAS;
  while (handled < input.length) {
    let m = MAX_CODE_POINT + 1;
    for (const c of input) if (c >= n && c < m) m = c;
    delta += (m - n) * (handled + 1);
    n = m;
    for (const c of input) {
      if (c < n) delta++;
      if (c === n) {
        let q = delta;
        for (let k = BASE; ; k += BASE) {
          const t = k <= bias ? T_MIN : k >= bias + T_MAX ? T_MAX : k - bias;
          if (q < t) break;
          out += digitChar(t + ((q - t) % (BASE - t)));
          q = Math.floor((q - t) / (BASE - t));
        }
        out += digitChar(q);
        bias = adapt(delta, handled + 1, handled === basic);
        delta = 0;
        handled++;
      }
    }
    delta++;
    n++;
  }
  return out;
}

/** RFC 3492 decoding of one label (without the `xn--` prefix); null when it is not valid punycode. */
export function punycodeDecode(encoded: string): string | null {
  const out: number[] = [];
  const delimiter = encoded.lastIndexOf('-');
  for (let j = 0; j < Math.max(0, delimiter); j++) {
    const c = encoded.charCodeAt(j);
    if (c >= 0x80) return null;
    out.push(c);
  }
  let n = INITIAL_N;
  let bias = INITIAL_BIAS;
  let i = 0;
  for (let pos = delimiter > 0 ? delimiter + 1 : 0; pos < encoded.length; ) {
    const oldI = i;
    let w = 1;
    for (let k = BASE; ; k += BASE) {
      if (pos >= encoded.length) return null;
      const digit = digitOf(encoded.charCodeAt(pos++));
      if (digit >= BASE || digit > Math.floor((MAX_CODE_POINT * 2 - i) / w)) return null;
      i += digit * w;
      const t = k <= bias ? T_MIN : k >= bias + T_MAX ? T_MAX : k - bias;
      if (digit < t) break;
      w *= BASE - t;
    }
    bias = adapt(i - oldI, out.length + 1, oldI === 0);
    n += Math.floor(i / (out.length + 1));
    i %= out.length + 1;
    if (n > MAX_CODE_POINT || (n >= 0xd800 && n <= 0xdfff)) return null;
    out.splice(i, 0, n);
    i++;
  }
  return String.fromCodePoint(...out);
}

/** Characters UTS #46 maps to nothing: they vanish from a name, as in Node. */
// biome-ignore lint/suspicious/noMisleadingCharacterClass: code points dropped one by one; none is meant to combine with another
const IGNORED = /[\u00ad\u034f\u180b-\u180d\u180f\u200b\u2060\u2064\ufe00-\ufe0f\ufeff\u{1bca0}-\u{1bca3}\u{e0100}-\u{e01ef}]/gu;
const COMPAT_SIGMA = /[\u03f2\u{1d6d3}\u{1d70d}\u{1d747}\u{1d781}\u{1d7bb}]/gu;
/** Full stops that separate labels like "." (after NFKC, U+FF0E is "." and U+FF61 is U+3002). */
const DOTS = /[\u3002\uff0e\uff61]/g;
/** Left after mapping, these refuse the name: controls, formats, private use, unassigned, surrogates, spaces, U+FFFD. */
const DISALLOWED = /[\p{C}\p{Z}\ufffd]/u;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the range is "every ASCII character", so it starts at NUL on purpose
const ASCII = /^[\x00-\x7f]*$/;

/** UTS #46 keeps these (non-transitional) or spells them out where a round trip through upper case would not. */
const FOLD_AS: Record<string, string> = { ß: 'ß', ς: 'ς', ẞ: 'ss', ı: 'ı' };

/** Case folding, one character at a time: to upper case and back (Cherokee folds to its capitals). */
function fold(c: string): string {
  const fixed = FOLD_AS[c];
  if (fixed !== undefined) return fixed;
  const up = c.toUpperCase();
  const cp = up.codePointAt(0)!;
  if (up.length === 1 && cp >= 0x13a0 && cp <= 0x13f5) return up;
  return up.toLowerCase();
}

/** The UTS #46 mapping of a typed name, as far as described above (the dots included). */
export function mapDomainText(text: string): string {
  // A final sigma that only compatibility makes one (lunate, mathematical) is a σ to UTS #46.
  const folded = text.replace(IGNORED, '').replace(COMPAT_SIGMA, 'σ').normalize('NFKC');
  // One character at a time: String#toLowerCase would turn a final Σ into ς, which UTS #46 does not.
  let lower = '';
  for (const c of folded) lower += fold(c);
  return lower.normalize('NFKC').replace(DOTS, '.');
}

/**
 * The ASCII form of a (mapped, lowercase) name: each non-ASCII label becomes `xn--` punycode and
 * each `xn--` label is checked to decode to a name that maps to itself (so `xn--` input is held to
 * the same rules as the Unicode it stands for). Null when the name cannot be converted.
 */
export function domainToAscii(name: string): string | null {
  const labels = name.split('.');
  const out: string[] = [];
  for (const label of labels) {
    if (ASCII.test(label)) {
      if (label.startsWith('xn--') && !validAceLabel(label)) return null;
      out.push(label);
      continue;
    }
    if (DISALLOWED.test(label)) return null;
    out.push(`xn--${punycodeEncode(label)}`);
  }
  return out.join('.');
}

function validAceLabel(label: string): boolean {
  const rest = label.slice(4);
  const decoded = punycodeDecode(rest);
  if (!decoded || decoded.includes('.') || DISALLOWED.test(decoded)) return false;
  // What it decodes to must be in mapped form and encode back to the same letters.
  return mapDomainText(decoded) === decoded && punycodeEncode(decoded) === rest;
}

/** For people: each `xn--` label shown in Unicode (labels that do not decode stay as they are). */
export function domainToUnicode(name: string): string {
  return name
    .split('.')
    .map((label) => {
      if (!label.toLowerCase().startsWith('xn--')) return label;
      const decoded = punycodeDecode(label.slice(4));
      return decoded ?? label;
    })
    .join('.');
}
