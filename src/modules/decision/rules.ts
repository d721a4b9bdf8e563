/**
 * Rule sets: parsed from YAML/JSON, checked with every problem located (rule id and key path), and compiled into
 * closures once, so that evaluating a decision is a walk over pre-resolved comparisons with no parsing, no lookups
 * of rule structure and no allocation unless a rule fires (its reason string is built only then).
 */
import { parse as parseYaml, YAMLParseError } from "yaml";
import { CleaveError } from "../../runtime/errors";
import type { Outcome, RuleFired } from "./contract";

type Scalar = string | number | boolean | null;

/** What a rule can look at: the request fields, the model's score and the feature vector. */
export interface EvalInput {
  transaction: Record<string, Scalar>;
  score: number;
  features?: Record<string, Scalar>;
}

/** A compiled condition: the explanation (with the actual values) when it holds, null when it does not. */
type Matcher = (input: EvalInput) => string | null;

export type Policy = "first-match" | "score-sum";

interface CompiledRule {
  id: string;
  outcome?: Outcome;
  score?: number;
  prefix: string;
  match: Matcher;
}

export interface Evaluation {
  decision: Outcome;
  rulesFired: RuleFired[];
  reasons: string[];
  ruleScore?: number;
}

export interface LocatedError {
  path: string;
  rule?: string;
  message: string;
}

const OUTCOMES: readonly Outcome[] = ["approve", "review", "block"];
const NUMERIC_OPS = { gt: ">", gte: "≥", lt: "<", lte: "≤" } as const;
const RULE_KEYS = ["id", "description", "priority", "enabled", "when", "outcome", "score"];
const SET_KEYS = ["version", "policy", "default", "thresholds", "lists", "rules", "description"];
const LEAF_OPS = ["gt", "gte", "lt", "lte", "eq", "ne", "in", "notIn", "inList", "notInList"];

export class RuleSet {
  readonly rules: readonly CompiledRule[];
  constructor(
    readonly version: string,
    readonly policy: Policy,
    private readonly defaultOutcome: Outcome,
    private readonly thresholds: { review: number; block: number },
    rules: CompiledRule[],
  ) {
    this.rules = rules;
  }

  /**
   * first-match: rules run in priority order and the first that holds decides (later ones are not evaluated);
   * nothing fires → the default outcome. score-sum: every rule that holds adds its score; the total is mapped to
   * block (≥ thresholds.block), review (≥ thresholds.review) or approve.
   */
  evaluate(input: EvalInput): Evaluation {
    const rules = this.rules;
    if (this.policy === "first-match") {
      for (let i = 0; i < rules.length; i++) {
        const r = rules[i];
        const why = r.match(input);
        if (why !== null) {
          const reason = r.prefix + why;
          return { decision: r.outcome!, rulesFired: [{ id: r.id, outcome: r.outcome, reason }], reasons: [reason] };
        }
      }
      return { decision: this.defaultOutcome, rulesFired: [], reasons: [] };
    }
    let total = 0;
    const fired: RuleFired[] = [];
    const reasons: string[] = [];
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i];
      const why = r.match(input);
      if (why === null) continue;
      const reason = `${r.prefix}${why} (${r.score! >= 0 ? "+" : ""}${r.score})`;
      total += r.score!;
      fired.push({ id: r.id, score: r.score, reason });
      reasons.push(reason);
    }
    const decision: Outcome = total >= this.thresholds.block ? "block" : total >= this.thresholds.review ? "review" : "approve";
    return { decision, rulesFired: fired, reasons, ruleScore: total };
  }
}

export class RuleSetError extends CleaveError {
  constructor(readonly errors: LocatedError[]) {
    const first = errors[0];
    const where = first.rule ? `rule "${first.rule}" at ${first.path}` : first.path;
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more problem${errors.length > 2 ? "s" : ""})` : "";
    super("INVALID_ARGUMENT", `rule set refused: ${where}: ${first.message}${more}`, { errors });
  }
}

/** Parses rule set text (YAML or JSON); a syntax error is located by line and column. */
export function parseRuleSetText(text: string): unknown {
  try {
    return parseYaml(text, { uniqueKeys: true });
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const pos = err.linePos?.[0];
      const path = pos ? `line ${pos.line}, column ${pos.col}` : "(text)";
      throw new RuleSetError([{ path, message: `not valid YAML/JSON: ${err.message.split("\n")[0]}` }]);
    }
    throw err;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
const isScalar = (v: unknown): v is string | number | boolean =>
  typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v));
const show = (v: Scalar | undefined): string =>
  typeof v === "number" ? (Number.isInteger(v) ? String(v) : String(+v.toPrecision(6))) : JSON.stringify(v ?? null);
const asNumber = (v: Scalar | undefined): number | null =>
  typeof v === "number" ? v : typeof v === "boolean" ? (v ? 1 : 0) : null;

/** Checks and compiles a rule set; throws RuleSetError listing every located problem. */
export function compileRuleSet(raw: unknown, knownFeatures: ReadonlySet<string>): RuleSet {
  const errors: LocatedError[] = [];
  const fail = (path: string, message: string, rule?: string) => void errors.push({ path, message, rule });
  if (!isObject(raw)) throw new RuleSetError([{ path: "(root)", message: "a rule set must be a mapping with version, policy and rules" }]);
  for (const k of Object.keys(raw)) if (!SET_KEYS.includes(k)) fail(k, `unknown key; allowed: ${SET_KEYS.join(", ")}`);

  const version = raw.version;
  if (typeof version !== "string" && typeof version !== "number") fail("version", "is required: a string or number naming this rule set");
  const policy = (raw.policy ?? "first-match") as Policy;
  if (policy !== "first-match" && policy !== "score-sum") fail("policy", `is ${JSON.stringify(raw.policy)}: must be "first-match" or "score-sum"`);
  const defaultOutcome = (raw.default ?? "approve") as Outcome;
  if (!OUTCOMES.includes(defaultOutcome)) fail("default", `must be one of ${OUTCOMES.join(", ")}`);

  let thresholds = { review: Infinity, block: Infinity };
  if (policy === "score-sum") {
    const t = raw.thresholds;
    if (!isObject(t) || typeof t.review !== "number" || typeof t.block !== "number") {
      fail("thresholds", "score-sum needs thresholds: {review: number, block: number}");
    } else if (t.review > t.block) {
      fail("thresholds", `review (${t.review}) must not exceed block (${t.block})`);
    } else thresholds = { review: t.review, block: t.block };
  }

  const lists = new Map<string, Set<string | number | boolean>>();
  if (raw.lists !== undefined) {
    if (!isObject(raw.lists)) fail("lists", "must map list names to arrays of values");
    else {
      for (const [name, values] of Object.entries(raw.lists)) {
        if (!Array.isArray(values) || !values.every(isScalar)) fail(`lists.${name}`, "must be an array of strings/numbers");
        else lists.set(name, new Set(values));
      }
    }
  }

  const compiled: { rule: CompiledRule; priority: number }[] = [];
  if (!Array.isArray(raw.rules)) fail("rules", "is required: an array of rules");
  const seen = new Set<string>();
  (Array.isArray(raw.rules) ? raw.rules : []).forEach((r: unknown, i: number) => {
    const at = `rules.${i}`;
    if (!isObject(r)) return fail(at, "a rule must be a mapping with id and when");
    const id = typeof r.id === "string" && r.id !== "" ? r.id : undefined;
    if (!id) fail(`${at}.id`, "is required: a non-empty string");
    else if (seen.has(id)) fail(`${at}.id`, `duplicate rule id "${id}"`, id);
    else seen.add(id);
    const bad = (path: string, message: string) => fail(`${at}.${path}`, message, id);
    for (const k of Object.keys(r)) if (!RULE_KEYS.includes(k)) bad(k, `unknown key; allowed: ${RULE_KEYS.join(", ")}`);
    if (r.priority !== undefined && (typeof r.priority !== "number" || !Number.isFinite(r.priority))) bad("priority", "must be a number");
    if (r.description !== undefined && typeof r.description !== "string") bad("description", "must be a string");
    if (policy === "first-match" && !OUTCOMES.includes(r.outcome as Outcome)) {
      bad("outcome", `first-match rules need an outcome: ${OUTCOMES.join(", ")}`);
    }
    if (policy === "score-sum" && (typeof r.score !== "number" || !Number.isFinite(r.score))) {
      bad("score", "score-sum rules need a numeric score");
    }
    const match = compileCondition(r.when, `${at}.when`, { knownFeatures, lists, bad: (p, m) => fail(p, m, id) });
    if (r.enabled === false || !id || !match) return;
    const prefix = `${id}: ${typeof r.description === "string" ? `${r.description} — ` : ""}`;
    const rule: CompiledRule = { id, prefix, match, outcome: r.outcome as Outcome, score: r.score as number };
    compiled.push({ rule, priority: typeof r.priority === "number" ? r.priority : 100 });
  });
  if (errors.length) throw new RuleSetError(errors);
  // Stable sort: equal priorities keep file order.
  const ordered = compiled.sort((a, b) => a.priority - b.priority).map((c) => c.rule);
  return new RuleSet(String(version), policy, defaultOutcome, thresholds, ordered);
}

interface CompileCtx {
  knownFeatures: ReadonlySet<string>;
  lists: Map<string, Set<string | number | boolean>>;
  bad: (path: string, message: string) => void;
}

function compileCondition(node: unknown, path: string, ctx: CompileCtx): Matcher | null {
  if (!isObject(node)) {
    ctx.bad(path, "a condition must be a mapping: {score: {...}}, {field, op}, {feature, op}, {all: []}, {any: []} or {not: {}}");
    return null;
  }
  if ("all" in node || "any" in node) {
    const kind = "all" in node ? "all" : "any";
    const items = node[kind];
    if (Object.keys(node).length !== 1) ctx.bad(path, `"${kind}" must be the only key of its condition`);
    if (!Array.isArray(items) || items.length === 0) {
      ctx.bad(`${path}.${kind}`, "must be a non-empty array of conditions");
      return null;
    }
    const parts = items.map((c, i) => compileCondition(c, `${path}.${kind}.${i}`, ctx));
    if (parts.some((p) => p === null)) return null;
    const ms = parts as Matcher[];
    if (kind === "any") {
      return (input) => {
        for (let i = 0; i < ms.length; i++) {
          const why = ms[i](input);
          if (why !== null) return why;
        }
        return null;
      };
    }
    return (input) => {
      let out = "";
      for (let i = 0; i < ms.length; i++) {
        const why = ms[i](input);
        if (why === null) return null;
        out = i === 0 ? why : `${out} and ${why}`;
      }
      return out;
    };
  }
  if ("not" in node) {
    if (Object.keys(node).length !== 1) ctx.bad(path, `"not" must be the only key of its condition`);
    const inner = compileCondition(node.not, `${path}.not`, ctx);
    if (!inner) return null;
    const text = `not ${describe(node.not)}`;
    return (input) => (inner(input) === null ? text : null);
  }
  return compileLeaf(node, path, ctx);
}

function compileLeaf(node: Record<string, unknown>, path: string, ctx: CompileCtx): Matcher | null {
  let get: (input: EvalInput) => Scalar | undefined;
  let label: string;
  let ops: Record<string, unknown>;
  let opsPath: string;
  if ("score" in node) {
    if (Object.keys(node).length !== 1 || !isObject(node.score)) {
      ctx.bad(path, "a score condition is {score: {gte: 0.9}} (comparisons inside score)");
      return null;
    }
    get = (input) => input.score;
    label = "score";
    ops = node.score;
    opsPath = `${path}.score`;
  } else if ("feature" in node || "field" in node) {
    const kind = "feature" in node ? "feature" : "field";
    const name = node[kind];
    if (typeof name !== "string" || name === "") {
      ctx.bad(`${path}.${kind}`, "must be a non-empty name");
      return null;
    }
    if (kind === "feature" && !ctx.knownFeatures.has(name)) {
      ctx.bad(`${path}.feature`, `unknown feature "${name}"; known features: ${[...ctx.knownFeatures].join(", ")}`);
      return null;
    }
    get = kind === "feature" ? (input) => input.features?.[name] : (input) => input.transaction[name];
    label = `${kind} ${name}`;
    ops = Object.fromEntries(Object.entries(node).filter(([k]) => k !== kind));
    opsPath = path;
  } else {
    ctx.bad(path, `a condition needs one of: score, field, feature, all, any, not (got keys ${Object.keys(node).join(", ") || "none"})`);
    return null;
  }
  const checks: ((v: Scalar | undefined) => string | null)[] = [];
  for (const [op, arg] of Object.entries(ops)) {
    const check = compileOp(op, arg, `${opsPath}.${op}`, ctx);
    if (check) checks.push(check);
  }
  if (checks.length === 0) {
    if (Object.keys(ops).length === 0) ctx.bad(opsPath, `no comparison given; use one of ${LEAF_OPS.join(", ")}`);
    return null;
  }
  // A missing value (absent field or feature) never satisfies a comparison, not even notIn.
  return (input) => {
    const v = get(input);
    if (v === undefined || v === null) return null;
    let out = "";
    for (let i = 0; i < checks.length; i++) {
      const part = checks[i](v);
      if (part === null) return null;
      if (part !== "") out = out === "" ? ` ${part}` : `${out}, ${part}`;
    }
    return `${label} = ${show(v)}${out}`;
  };
}

function compileOp(op: string, arg: unknown, path: string, ctx: CompileCtx): ((v: Scalar | undefined) => string | null) | null {
  if (op in NUMERIC_OPS) {
    if (typeof arg !== "number" || !Number.isFinite(arg)) return void ctx.bad(path, `${op} needs a number`), null;
    const sym = NUMERIC_OPS[op as keyof typeof NUMERIC_OPS];
    const text = `${sym} ${show(arg)}`;
    const holds =
      op === "gt" ? (n: number) => n > arg : op === "gte" ? (n: number) => n >= arg : op === "lt" ? (n: number) => n < arg : (n: number) => n <= arg;
    return (v) => {
      const n = asNumber(v);
      return n !== null && holds(n) ? text : null;
    };
  }
  if (op === "eq" || op === "ne") {
    if (!isScalar(arg)) return void ctx.bad(path, `${op} needs a string, number or boolean`), null;
    const equal = (v: Scalar | undefined) => v === arg || (typeof arg === "number" && asNumber(v) === arg);
    // "x = 1" already says it all for eq; the empty part adds nothing to the reason.
    const text = `≠ ${show(arg)}`;
    return op === "eq" ? (v) => (equal(v) ? "" : null) : (v) => (equal(v) ? null : text);
  }
  if (op === "in" || op === "notIn" || op === "inList" || op === "notInList") {
    let set: Set<string | number | boolean> | undefined;
    let name: string;
    if (op === "in" || op === "notIn") {
      if (!Array.isArray(arg) || !arg.every(isScalar)) return void ctx.bad(path, `${op} needs an array of values`), null;
      set = new Set(arg);
      name = arg.length <= 5 ? `[${arg.map((a) => show(a)).join(", ")}]` : `a list of ${arg.length}`;
    } else {
      set = typeof arg === "string" ? ctx.lists.get(arg) : undefined;
      if (!set) {
        return void ctx.bad(path, `names unknown list ${JSON.stringify(arg)}; defined lists: ${[...ctx.lists.keys()].join(", ") || "(none)"}`), null;
      }
      name = `list ${arg}`;
    }
    const inSet = set;
    const positive = op === "in" || op === "inList";
    const text = `${positive ? "in" : "not in"} ${name}`;
    return (v) => (inSet.has(v as string) === positive ? text : null);
  }
  ctx.bad(path, `unknown comparison "${op}"; use one of ${LEAF_OPS.join(", ")}`);
  return null;
}

/** A condition as text, for reasons about conditions that did NOT hold (`not`). Only called on valid nodes. */
function describe(node: unknown): string {
  const n = node as Record<string, any>;
  if (n.all) return `(${n.all.map(describe).join(" and ")})`;
  if (n.any) return `(${n.any.map(describe).join(" or ")})`;
  if (n.not) return `not ${describe(n.not)}`;
  const [label, ops] = n.score ? ["score", n.score] : "feature" in n ? [`feature ${n.feature}`, n] : [`field ${n.field}`, n];
  const words: Record<string, string> = { ...NUMERIC_OPS, eq: "=", ne: "≠", in: "in", notIn: "not in", inList: "in list", notInList: "not in list" };
  const parts = Object.entries(ops as Record<string, unknown>)
    .filter(([op]) => op in words)
    .map(([op, arg]) => `${words[op]} ${typeof arg === "string" && op.endsWith("List") ? arg : JSON.stringify(arg)}`);
  return `${label} ${parts.join(", ")}`;
}
