/**
 * Schema checks at every boundary (bus operations, events, config) with one error format: the field path and what
 * was expected, so a 400 at the gateway names the field a caller got wrong.
 */
import { type ObjectOptions, type TRecord, type TSchema, type TString, Type } from "@sinclair/typebox";
import { TypeCompiler, type TypeCheck } from "@sinclair/typebox/compiler";
import { CleaveError } from "./errors";

/**
 * A map from any string key to `value`s, for contracts: the JSON Schema meaning of Type.Record(Type.String(), value)
 * and its static type, checked 2–3× faster. TypeBox checks a Record's keys against a pattern (a RegExp test per key
 * and an entries array per check); an object with `additionalProperties` just walks its keys. Records on the fraud
 * pipeline's path were a visible share of its validation time.
 */
export const StringMap = <V extends TSchema>(value: V, options: ObjectOptions = {}) =>
  Type.Object({}, { ...options, additionalProperties: value }) as unknown as TRecord<TString, V>;

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

function checker(schema: TSchema): TypeCheck<TSchema> {
  let c = compiled.get(schema);
  if (!c) {
    c = TypeCompiler.Compile(schema);
    compiled.set(schema, c);
  }
  return c;
}

export interface FieldError {
  path: string;
  message: string;
}

/** JSON pointer `/inputs/0/shape` → `inputs.0.shape`; the root is `(root)`. */
export const fieldName = (pointer: string) => (pointer === "" ? "(root)" : pointer.slice(1).replaceAll("/", "."));

export function schemaErrors(schema: TSchema, value: unknown, max = 5): FieldError[] {
  const c = checker(schema);
  if (c.Check(value)) return [];
  const out: FieldError[] = [];
  for (const e of c.Errors(value)) {
    out.push({ path: fieldName(e.path), message: e.message });
    if (out.length >= max) break;
  }
  return out;
}

/** Throws INVALID_ARGUMENT naming the first bad field; `what` says whose input it was. */
export function assertSchema(schema: TSchema, value: unknown, what: string): void {
  if (checker(schema).Check(value)) return;
  const errors = schemaErrors(schema, value);
  const first = errors[0];
  throw new CleaveError(
    "INVALID_ARGUMENT",
    first ? `${what}: field "${first.path}": ${first.message}` : `${what} is invalid`,
    { errors },
  );
}
