/**
 * A strict parser for the YAML the deploy files use, because no YAML library
 * is installed (and none is added for tests alone). It accepts block mappings
 * and sequences, single-line flow collections, quoted and plain scalars,
 * anchors, aliases, merge keys (`<<`) and `---` documents, and it throws on
 * everything else (block scalars, tags, complex keys, multi-line flow, tabs).
 * It also refuses plain scalars that YAML 1.1 readers (docker compose, kubectl)
 * and YAML 1.2 readers would type differently (`yes`, `on`, `0755`, `1_000`,
 * `22:22`, `1e3`, dates) and duplicate keys: quote them. So a file it parses
 * means the same to every reader. Cross-checked against PyYAML where present
 * (yaml-subset.test.ts).
 */

export class YamlSubsetError extends Error {
  override readonly name = "YamlSubsetError";
  constructor(message: string, line?: number) {
    super(line === undefined ? message : `line ${line}: ${message}`);
  }
}

export type YamlValue = null | boolean | number | string | YamlValue[] | { [key: string]: YamlValue };

interface Line {
  no: number;
  indent: number;
  text: string;
}

const MERGE_KEY = "<<";

/** Every document of a multi-document file (`---` separators). */
export function parseYamlDocuments(source: string): YamlValue[] {
  const docs: Line[][] = [[]];
  let explicitStart = false;
  source.split(/\r?\n/).forEach((raw, i) => {
    const no = i + 1;
    if (/^ *\t/.test(raw)) throw new YamlSubsetError("tab in indentation", no);
    if (/^---\s*(#.*)?$/.test(raw)) {
      // Comments before the first `---` do not make a document.
      if (docs.length > 1 || (docs[0] as Line[]).length > 0 || explicitStart) docs.push([]);
      explicitStart = true;
      return;
    }
    if (/^(---|\.\.\.)(\s|$)/.test(raw))
      throw new YamlSubsetError("document markers with content are not supported", no);
    if (/^%/.test(raw)) throw new YamlSubsetError("directives are not supported", no);
    const text = stripComment(raw, no).trimEnd();
    if (text.trim() === "") return;
    const indent = text.length - text.trimStart().length;
    (docs[docs.length - 1] as Line[]).push({ no, indent, text: text.trimStart() });
  });
  return docs.map((lines) => new DocumentParser(lines).parse());
}

/** The single document of a file. */
export function parseYaml(source: string): YamlValue {
  const docs = parseYamlDocuments(source);
  if (docs.length !== 1) throw new YamlSubsetError(`expected one document, found ${docs.length}`);
  return docs[0] as YamlValue;
}

/** Removes a comment: `#` at the start or after whitespace, outside quotes. */
function stripComment(raw: string, no: number): string {
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (quote === '"') {
      if (c === "\\") i++;
      else if (c === '"') quote = undefined;
    } else if (quote === "'") {
      if (c === "'" && raw[i + 1] === "'") i++;
      else if (c === "'") quote = undefined;
    } else if (c === "#" && (i === 0 || raw[i - 1] === " " || raw[i - 1] === "\t")) {
      return raw.slice(0, i);
    } else if ((c === '"' || c === "'") && startsScalar(raw, i)) {
      quote = c;
    }
  }
  if (quote) throw new YamlSubsetError("unterminated quoted string (multi-line scalars are not supported)", no);
  return raw;
}

/** A quote opens a quoted scalar only where a scalar can start (not inside a plain one like it's). */
function startsScalar(raw: string, i: number): boolean {
  const before = raw.slice(0, i).trimEnd();
  return before === "" || /(?:^|\s)-$/.test(before) || /[:[{,]$/.test(before) || /(?:^|\s)&\S+$/.test(before);
}

class DocumentParser {
  private pos = 0;
  private readonly anchors = new Map<string, YamlValue>();

  constructor(private readonly lines: Line[]) {}

  parse(): YamlValue {
    if (this.lines.length === 0) return null;
    const first = this.lines[0] as Line;
    const value = this.block(first.indent);
    const rest = this.lines[this.pos];
    if (rest) throw new YamlSubsetError("unexpected content (bad indentation?)", rest.no);
    return value;
  }

  private peek(): Line | undefined {
    return this.lines[this.pos];
  }

  private block(indent: number): YamlValue {
    const line = this.peek();
    if (!line || line.indent !== indent) throw new YamlSubsetError("expected a block", line?.no);
    return isSequenceItem(line.text) ? this.sequence(indent) : this.mapping(indent);
  }

  private sequence(indent: number): YamlValue[] {
    const items: YamlValue[] = [];
    for (let line = this.peek(); line && line.indent === indent; line = this.peek()) {
      // A key at this indent ends a sequence that is the value of the key before it.
      if (!isSequenceItem(line.text)) break;
      const rest = line.text.slice(1).trimStart();
      if (rest === "") {
        this.pos++;
        items.push(this.nestedOrNull(indent, false));
        continue;
      }
      // A compact block inside the item (`- key: value` or `- - x`): reread the
      // rest of the line as a block at the column where it starts.
      const column = indent + (line.text.length - rest.length);
      if (isSequenceItem(rest) || findMappingColon(rest) !== -1) {
        this.lines[this.pos] = { no: line.no, indent: column, text: rest };
        items.push(this.block(column));
        continue;
      }
      this.pos++;
      items.push(this.inlineValue(rest, line.no));
    }
    const next = this.peek();
    if (next && next.indent > indent) throw new YamlSubsetError("bad indentation", next.no);
    return items;
  }

  private mapping(indent: number): { [key: string]: YamlValue } {
    const entries = new Map<string, YamlValue>();
    const merged: { [key: string]: YamlValue }[] = [];
    for (let line = this.peek(); line && line.indent === indent; line = this.peek()) {
      if (isSequenceItem(line.text)) break;
      const colon = findMappingColon(line.text);
      if (colon === -1) throw new YamlSubsetError(`expected "key: value": ${line.text}`, line.no);
      const key = parseKey(line.text.slice(0, colon), line.no);
      const rest = line.text.slice(colon + 1).trim();
      this.pos++;
      let value: YamlValue;
      const anchorOnly = /^&([^\s]+)$/.exec(rest);
      if (rest === "" || anchorOnly) {
        value = this.nestedOrNull(indent, true);
        if (anchorOnly) this.anchors.set(anchorOnly[1] as string, value);
      } else {
        value = this.inlineValue(rest, line.no);
      }
      if (key === MERGE_KEY) merged.push(...mergeSources(value, line.no));
      else if (entries.has(key)) throw new YamlSubsetError(`duplicate key ${key}`, line.no);
      else entries.set(key, value);
    }
    const next = this.peek();
    if (next && next.indent > indent) throw new YamlSubsetError("bad indentation", next.no);
    return withMerges(entries, merged);
  }

  /** The block under a key or a bare `-`; in a mapping, a sequence may sit at the key's own indent. */
  private nestedOrNull(indent: number, sequenceAtSameIndent: boolean): YamlValue {
    const next = this.peek();
    if (!next) return null;
    if (next.indent > indent) return this.block(next.indent);
    if (sequenceAtSameIndent && next.indent === indent && isSequenceItem(next.text)) return this.sequence(indent);
    return null;
  }

  private inlineValue(text: string, no: number): YamlValue {
    const anchor = /^&([^\s]+)\s+(.*)$/.exec(text);
    if (anchor) {
      const value = this.inlineValue(anchor[2] as string, no);
      this.anchors.set(anchor[1] as string, value);
      return value;
    }
    if (text.startsWith("*")) return this.alias(text.slice(1), no);
    if (text.startsWith("[") || text.startsWith("{")) {
      const flow = new FlowParser(text, no, (name) => this.alias(name, no));
      return flow.parseAll();
    }
    if (text.startsWith('"') || text.startsWith("'")) {
      const { value, end } = quoted(text, 0, no);
      if (text.slice(end).trim() !== "") throw new YamlSubsetError(`text after a quoted scalar: ${text}`, no);
      return value;
    }
    if (findMappingColon(text) !== -1) throw new YamlSubsetError(`nested mapping on one line: ${text}`, no);
    return plainScalar(text, no);
  }

  private alias(name: string, no: number): YamlValue {
    const value = this.anchors.get(name.trim());
    if (value === undefined) throw new YamlSubsetError(`unknown alias *${name}`, no);
    return value;
  }
}

function isSequenceItem(text: string): boolean {
  return text === "-" || text.startsWith("- ");
}

/** Index of the `:` that ends a block mapping key (followed by a space or the end), outside quotes and flow. */
function findMappingColon(text: string): number {
  if (text.startsWith('"') || text.startsWith("'")) {
    const end = quotedEnd(text, 0);
    return end !== -1 && text[end] === ":" && (end + 1 === text.length || text[end + 1] === " ") ? end : -1;
  }
  if (/^[[{&*!|>]/.test(text)) return -1;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === ":" && (i + 1 === text.length || text[i + 1] === " ")) return i;
  }
  return -1;
}

function quotedEnd(text: string, start: number): number {
  const q = text[start];
  for (let i = start + 1; i < text.length; i++) {
    if (q === '"' && text[i] === "\\") i++;
    else if (q === "'" && text[i] === "'" && text[i + 1] === "'") i++;
    else if (text[i] === q) return i + 1;
  }
  return -1;
}

function parseKey(raw: string, no: number): string {
  const text = raw.trim();
  if (text.startsWith("?")) throw new YamlSubsetError("complex keys are not supported", no);
  if (text.startsWith('"') || text.startsWith("'")) return quoted(text, 0, no).value;
  if (text === MERGE_KEY) return text;
  const value = plainScalar(text, no);
  if (typeof value !== "string") throw new YamlSubsetError(`non-string key ${text}: quote it`, no);
  return value;
}

const ESCAPES: Record<string, string> = {
  "0": "\0",
  a: "\x07",
  b: "\b",
  t: "\t",
  n: "\n",
  v: "\v",
  f: "\f",
  r: "\r",
  e: "\x1b",
  " ": " ",
  '"': '"',
  "/": "/",
  "\\": "\\",
};

function quoted(text: string, start: number, no: number): { value: string; end: number } {
  const end = quotedEnd(text, start);
  if (end === -1) throw new YamlSubsetError(`unterminated quoted scalar: ${text}`, no);
  const body = text.slice(start + 1, end - 1);
  if (text[start] === "'") return { value: body.replaceAll("''", "'"), end };
  let out = "";
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c !== "\\") {
      out += c;
      continue;
    }
    const e = body[++i] as string;
    const hex = { x: 2, u: 4, U: 8 }[e];
    if (hex !== undefined) {
      const digits = body.slice(i + 1, i + 1 + hex);
      if (!/^[0-9a-fA-F]+$/.test(digits) || digits.length !== hex) throw new YamlSubsetError(`bad escape \\${e}`, no);
      out += String.fromCodePoint(Number.parseInt(digits, 16));
      i += hex;
    } else if (e in ESCAPES) {
      out += ESCAPES[e];
    } else {
      throw new YamlSubsetError(`unsupported escape \\${e}`, no);
    }
  }
  return { value: out, end };
}

// The implicit types of YAML 1.1 (PyYAML's resolver, also what go-yaml v2 readers
// apply): a plain scalar matching one of them but not the canonical forms below
// would be typed differently by different readers.
const YAML11_BOOL = /^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;
const YAML11_INT =
  /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/;
const YAML11_FLOAT =
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|[-+]?[0-9]+[eE][-+]?[0-9]+)$/;
const YAML11_NULL = /^(?:~|null|Null|NULL)$/;
const YAML11_TIMESTAMP = /^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt\s].*)?$/;

function plainScalar(raw: string, no: number): YamlValue {
  const text = raw.trim();
  if (text === "" || text === "~" || text === "null") return null;
  if (text === "true") return true;
  if (text === "false") return false;
  if (/^-?(?:0|[1-9][0-9]*)$/.test(text)) return Number(text);
  if (/^-?(?:0|[1-9][0-9]*)\.[0-9]+$/.test(text)) return Number(text);
  if (YAML11_BOOL.test(text) || YAML11_INT.test(text) || YAML11_FLOAT.test(text) || YAML11_NULL.test(text)) {
    throw new YamlSubsetError(`ambiguous plain scalar ${text}: quote it`, no);
  }
  if (YAML11_TIMESTAMP.test(text)) throw new YamlSubsetError(`plain scalar ${text} reads as a date: quote it`, no);
  if (/^[|>]/.test(text)) throw new YamlSubsetError("block scalars (| and >) are not supported", no);
  if (/^[!%@`]/.test(text)) throw new YamlSubsetError(`unsupported plain scalar start: ${text}`, no);
  if (/^[-?:](\s|$)/.test(text)) throw new YamlSubsetError(`unexpected indicator: ${text}`, no);
  if (/\s#/.test(text)) throw new YamlSubsetError(`comment inside a scalar: ${text}`, no);
  return text;
}

function mergeSources(value: YamlValue, no: number): { [key: string]: YamlValue }[] {
  const sources = Array.isArray(value) ? value : [value];
  return sources.map((s) => {
    if (s === null || typeof s !== "object" || Array.isArray(s)) throw new YamlSubsetError("<< needs mappings", no);
    return s;
  });
}

/** YAML merge keys: explicit keys win, then earlier merge sources over later ones. */
function withMerges(
  entries: Map<string, YamlValue>,
  merged: { [key: string]: YamlValue }[],
): { [key: string]: YamlValue } {
  const out: { [key: string]: YamlValue } = {};
  for (const source of [...merged].reverse()) Object.assign(out, source);
  for (const [k, v] of entries) out[k] = v;
  return out;
}

/** `[a, b]` and `{k: v, <<: *x}` on one line. */
class FlowParser {
  private i = 0;

  constructor(
    private readonly text: string,
    private readonly no: number,
    private readonly alias: (name: string) => YamlValue,
  ) {}

  parseAll(): YamlValue {
    const value = this.value();
    this.skipSpaces();
    if (this.i !== this.text.length) this.fail("text after a flow collection (multi-line flow is not supported)");
    return value;
  }

  private fail(message: string): never {
    throw new YamlSubsetError(`${message}: ${this.text}`, this.no);
  }

  private notAtEnd(): void {
    if (this.i >= this.text.length) this.fail("unterminated flow collection (multi-line flow is not supported)");
  }

  private skipSpaces(): void {
    while (this.text[this.i] === " ") this.i++;
  }

  private value(): YamlValue {
    this.skipSpaces();
    const c = this.text[this.i];
    if (c === "[") return this.sequence();
    if (c === "{") return this.mapping();
    if (c === '"' || c === "'") {
      const { value, end } = quoted(this.text, this.i, this.no);
      this.i = end;
      return value;
    }
    if (c === "*") {
      this.i++;
      return this.alias(this.plainText(false));
    }
    return plainScalar(this.plainText(false), this.no);
  }

  private plainText(isKey: boolean): string {
    const start = this.i;
    while (this.i < this.text.length) {
      const c = this.text[this.i];
      if (c === "," || c === "]" || c === "}") break;
      if (isKey && c === ":" && (this.text[this.i + 1] === " " || this.i + 1 === this.text.length)) break;
      if (c === ":" && this.text[this.i + 1] === " ") this.fail("':' inside a flow scalar");
      this.i++;
    }
    return this.text.slice(start, this.i).trim();
  }

  private sequence(): YamlValue[] {
    this.i++;
    const items: YamlValue[] = [];
    for (;;) {
      this.skipSpaces();
      if (this.text[this.i] === "]") {
        this.i++;
        return items;
      }
      items.push(this.value());
      this.skipSpaces();
      this.notAtEnd();
      const c = this.text[this.i++];
      if (c === "]") return items;
      if (c !== ",") this.fail("expected , or ]");
    }
  }

  private mapping(): { [key: string]: YamlValue } {
    this.i++;
    const entries = new Map<string, YamlValue>();
    const merged: { [key: string]: YamlValue }[] = [];
    for (;;) {
      this.skipSpaces();
      if (this.text[this.i] === "}") {
        this.i++;
        return withMerges(entries, merged);
      }
      let key: string;
      if (this.text[this.i] === '"' || this.text[this.i] === "'") {
        const q = quoted(this.text, this.i, this.no);
        key = q.value;
        this.i = q.end;
      } else {
        const raw = this.plainText(true);
        key = raw === MERGE_KEY ? raw : String(parseKey(raw, this.no));
      }
      this.skipSpaces();
      if (this.text[this.i] !== ":") this.fail("expected : after a flow mapping key");
      this.i++;
      const value = this.value();
      if (key === MERGE_KEY) merged.push(...mergeSources(value, this.no));
      else if (entries.has(key)) this.fail(`duplicate key ${key}`);
      else entries.set(key, value);
      this.skipSpaces();
      this.notAtEnd();
      const c = this.text[this.i++];
      if (c === "}") return withMerges(entries, merged);
      if (c !== ",") this.fail("expected , or }");
    }
  }
}
