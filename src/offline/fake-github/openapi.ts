/**
 * GitHub's OpenAPI description (from @octokit/openapi): route matching by method + path
 * template (indexed by path segments, so a request tries a few regexes, not all 1200), and ajv
 * validation of request and response bodies. Loaded once per process, lazily; validators are
 * compiled lazily per operation and status.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Ajv, type ValidateFunction } from "ajv";
import formatsModule, { type FormatsPlugin } from "ajv-formats";
import { escapeRegExp } from "../../core/escape-regexp.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const addFormats = ((formatsModule as unknown as { default?: FormatsPlugin }).default ?? formatsModule) as FormatsPlugin;

const METHODS = ["get", "post", "put", "patch", "delete", "head"] as const;

export interface Operation {
  method: string;
  template: string;
  operationId: string;
  regex: RegExp;
  paramNames: string[];
  literalCount: number;
  multiCount: number;
  spec: JsonObject;
}

export type RouteMatch =
  { kind: "ok"; operation: Operation; params: Record<string, string> } | { kind: "unknown-route" } | { kind: "method-not-allowed"; template: string };

interface TrieNode {
  literal: Map<string, TrieNode>;
  param: TrieNode | null;
  exact: Operation[];
  tail: Operation[];
}

const newNode = (): TrieNode => ({ literal: new Map(), param: null, exact: [], tail: [] });

const isObject = (v: Json | undefined): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);

/** OpenAPI 3.0 `nullable` → JSON Schema that ajv accepts everywhere (ajv refuses `nullable` without `type`). */
function toAjvSchema(schema: Json): Json {
  if (Array.isArray(schema)) return schema.map(toAjvSchema);
  if (!isObject(schema)) return schema;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(schema)) {
    out[k] = toAjvSchema(v);
  }
  // The dereferenced file turns the installation account's `anyOf: [simple-user, enterprise]`
  // (as api.github.com.json has it) into an `allOf`, which no real account meets: restore it.
  if (Array.isArray(out.allOf) && out.allOf.map((s) => (isObject(s) ? s.title : null)).join("+") === "Simple User+Enterprise") {
    out.anyOf = out.allOf;
    delete out.allOf;
  }
  if (out.nullable === true && Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
  if (out.nullable === true && out.type === undefined) {
    delete out.nullable;
    return { anyOf: [out, { type: "null" }] };
  }
  return out;
}

export class OpenApi {
  private static instance: OpenApi | null = null;

  static shared(): OpenApi {
    OpenApi.instance ??= new OpenApi();
    return OpenApi.instance;
  }

  private readonly operations: Operation[] = [];
  /** Operations by their path segments, so a request tries a handful of regexes, not all of them. */
  private readonly trie: TrieNode = newNode();
  private readonly templates = new Map<string, { regex: RegExp }>();
  private readonly ajv: Ajv;
  private readonly validators = new Map<string, ValidateFunction | null>();

  private constructor() {
    const require = createRequire(import.meta.url);
    const file = require.resolve("@octokit/openapi/generated/api.github.com.deref.json");
    const doc = JSON.parse(readFileSync(file, "utf8")) as { paths: Record<string, Record<string, Json>> };
    for (const [template, item] of Object.entries(doc.paths)) {
      const multi = new Set<string>();
      for (const method of METHODS) {
        const op = item[method];
        if (!isObject(op) || !Array.isArray(op.parameters)) continue;
        for (const p of op.parameters) if (isObject(p) && p["x-multi-segment"] === true && typeof p.name === "string") multi.add(p.name);
      }
      const paramNames: string[] = [];
      let literalCount = 0;
      const source = template
        .split("/")
        .map((seg) => {
          if (!seg.includes("{")) {
            literalCount += 1;
            return escapeRegExp(seg);
          }
          // A segment may mix parameters and literals, e.g. `{base}...{head}`.
          if (!/^\{[^}]+\}$/.test(seg)) literalCount += 0.5;
          return seg
            .split(/(\{[^}]+\})/)
            .map((part) => {
              const m = /^\{(.+)\}$/.exec(part);
              if (!m || !m[1]) return escapeRegExp(part);
              paramNames.push(m[1]);
              return multi.has(m[1]) ? "(.+)" : seg === part ? "([^/]+)" : "([^/]+?)";
            })
            .join("");
        })
        .join("/");
      const regex = new RegExp(`^${source}$`);
      this.templates.set(template, { regex });
      const added: Operation[] = [];
      for (const method of METHODS) {
        const op = item[method];
        if (!isObject(op) || typeof op.operationId !== "string") continue;
        const operation: Operation = {
          method: method.toUpperCase(),
          template,
          operationId: op.operationId,
          regex,
          paramNames,
          literalCount,
          multiCount: multi.size,
          spec: op,
        };
        this.operations.push(operation);
        added.push(operation);
      }
      this.index(template, multi, added);
    }
    this.ajv = new Ajv({ strict: false, allErrors: true, logger: false, validateFormats: true });
    addFormats(this.ajv);
  }

  /**
   * Files a template's operations under its leading segments, up to the first segment that is
   * not one whole single-segment parameter or a literal (a multi-segment parameter, or `{a}...{b}`):
   * `exact` when the template ends there, `tail` when the rest is left to its regex.
   */
  private index(template: string, multi: Set<string>, operations: Operation[]): void {
    let node = this.trie;
    const segments = template.split("/").slice(1);
    for (const seg of segments) {
      const param = /^\{([^}]+)\}$/.exec(seg);
      if (seg.includes("{") && (!param || multi.has(param[1] ?? ""))) {
        node.tail.push(...operations);
        return;
      }
      const next: TrieNode | undefined = param ? (node.param ??= newNode()) : node.literal.get(seg);
      if (next) node = next;
      else {
        const created = newNode();
        node.literal.set(seg, created);
        node = created;
      }
    }
    node.exact.push(...operations);
  }

  /** The operations whose template may match `rawPath` (each still checked by its regex). */
  private candidates(rawPath: string): Operation[] {
    const segments = rawPath.split("/").slice(1);
    const found: Operation[] = [];
    const walk = (node: TrieNode, i: number): void => {
      found.push(...node.tail);
      if (i === segments.length) {
        found.push(...node.exact);
        return;
      }
      const seg = segments[i] ?? "";
      const literal = node.literal.get(seg);
      if (literal) walk(literal, i + 1);
      if (node.param && seg !== "") walk(node.param, i + 1);
    };
    if (rawPath.startsWith("/")) walk(this.trie, 0);
    return found.sort((a, b) => this.order(a) - this.order(b));
  }

  private readonly positions = new Map<Operation, number>();

  private order(operation: Operation): number {
    if (this.positions.size === 0) this.operations.forEach((op, i) => this.positions.set(op, i));
    return this.positions.get(operation) ?? 0;
  }

  /** Matches a raw (still percent-encoded) path; the most literal template wins. */
  match(method: string, rawPath: string): RouteMatch {
    const candidates: Array<{ operation: Operation; m: RegExpExecArray }> = [];
    let templateHit: string | null = null;
    for (const operation of this.candidates(rawPath)) {
      const m = operation.regex.exec(rawPath);
      if (!m) continue;
      templateHit ??= operation.template;
      if (operation.method === method) candidates.push({ operation, m });
    }
    if (candidates.length === 0) return templateHit ? { kind: "method-not-allowed", template: templateHit } : { kind: "unknown-route" };
    candidates.sort((a, b) => b.operation.literalCount - a.operation.literalCount || a.operation.multiCount - b.operation.multiCount);
    const best = candidates[0];
    if (!best) return { kind: "unknown-route" };
    const params: Record<string, string> = {};
    best.operation.paramNames.forEach((name, i) => {
      params[name] = decodeURIComponent(best.m[i + 1] ?? "");
    });
    return { kind: "ok", operation: best.operation, params };
  }

  private validator(key: string, schema: Json | undefined): ValidateFunction | null {
    if (this.validators.has(key)) return this.validators.get(key) ?? null;
    const fn = schema === undefined ? null : this.ajv.compile(toAjvSchema(schema) as object);
    this.validators.set(key, fn);
    return fn;
  }

  private static jsonSchema(node: Json | undefined): Json | undefined {
    if (!isObject(node) || !isObject(node.content)) return undefined;
    const json = node.content["application/json"];
    return isObject(json) ? json.schema : undefined;
  }

  /** Returns a message when the body breaks the operation's request schema, else null. */
  validateRequest(operation: Operation, body: unknown, hasBody: boolean): string | null {
    const requestBody = operation.spec.requestBody;
    if (!isObject(requestBody)) return null;
    if (!hasBody) return requestBody.required === true ? "request body is required" : null;
    const fn = this.validator(`${operation.operationId}:request`, OpenApi.jsonSchema(requestBody));
    if (!fn || fn(body)) return null;
    return this.ajv.errorsText(fn.errors, { dataVar: "body" });
  }

  /**
   * Checks a response. `undocumented` when a success status is not described;
   * error statuses the description does not list are accepted (GitHub documents few of them).
   */
  validateResponse(operation: Operation, status: number, body: unknown): { kind: "undocumented-status" | "response-body"; message: string } | null {
    const responses = operation.spec.responses;
    if (!isObject(responses)) return null;
    const response = responses[String(status)];
    if (response === undefined) {
      if (status >= 300) return null;
      return { kind: "undocumented-status", message: `status ${status} is not documented for ${operation.operationId}` };
    }
    const schema = OpenApi.jsonSchema(response);
    if (schema === undefined || body === undefined) return null;
    const fn = this.validator(`${operation.operationId}:response:${status}`, schema);
    if (!fn || fn(body)) return null;
    return { kind: "response-body", message: this.ajv.errorsText(fn.errors, { dataVar: "response" }) };
  }
}
