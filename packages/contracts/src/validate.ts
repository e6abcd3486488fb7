// One ajv instance for every contract: validate events, query requests and replies, dead letters.
import type { TSchema } from '@sinclair/typebox';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { DeadLetter } from './dead-letter.js';
import {
  queries,
  QueryResponse,
  isQuerySubject,
  type QueryReply,
  type QueryRequest,
  type QuerySubject,
} from './queries.js';
import { eventSchema, events, isEventSubject, type EventData, type EventSubject, type GraceEvent } from './subjects.js';

export interface ValidationError {
  /** Where, as a dotted path from the root (`data.severity`, `items.3.name`); empty for the root. */
  readonly path: string;
  readonly message: string;
}

export type Validation<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly errors: ValidationError[] };

// ajv-formats is published as CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
addFormats(ajv);

const compiled = new WeakMap<TSchema, ValidateFunction>();
function compile(schema: TSchema): ValidateFunction {
  let fn = compiled.get(schema);
  if (!fn) {
    fn = ajv.compile(schema);
    compiled.set(schema, fn);
  }
  return fn;
}

function joinPath(instancePath: string, child?: string): string {
  const parts = instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (child !== undefined) parts.push(child);
  return parts.join('.');
}

function toValidationError(e: ErrorObject): ValidationError {
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return { path: joinPath(e.instancePath, String(params.missingProperty)), message: 'is required' };
    case 'additionalProperties':
      return {
        path: joinPath(e.instancePath, String(params.additionalProperty)),
        message: 'is not an allowed property',
      };
    case 'enum':
      return {
        path: joinPath(e.instancePath),
        message: `must be one of: ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
      };
    case 'const':
      return { path: joinPath(e.instancePath), message: `must be ${JSON.stringify(params.allowedValue)}` };
    default:
      return { path: joinPath(e.instancePath), message: e.message ?? e.keyword };
  }
}

// A union of objects told apart by a constant property (checks by `kind`) reports every member's errors plus an
// `anyOf`; keep only the errors of the member the value names, or one error on the property when it names none.
function pruneDiscriminatedUnions(errors: ErrorObject[]): ErrorObject[] {
  let kept = errors;
  const unions = errors.filter((e) => e.keyword === 'anyOf').sort((a, b) => a.schemaPath.length - b.schemaPath.length);
  for (const union of unions) {
    if (!kept.includes(union)) continue; // inside a member already dropped
    const prefix = `${union.schemaPath}/`;
    const byMember = new Map<string, ErrorObject[]>();
    for (const e of kept) {
      if (!e.schemaPath.startsWith(prefix)) continue;
      const member = e.schemaPath.slice(prefix.length).split('/')[0]!;
      byMember.set(member, [...(byMember.get(member) ?? []), e]);
    }
    const members = [...byMember.values()];
    const replacement = members.length > 1 ? explainUnion(union, members) : undefined;
    if (!replacement) continue;
    const inUnion = new Set([union, ...members.flat()]);
    kept = kept.flatMap((e) => (e === union ? replacement : inUnion.has(e) ? [] : [e]));
  }
  return kept;
}

/** The errors that say why a union failed, in place of every member's; undefined leaves them as they are. */
function explainUnion(union: ErrorObject, members: ErrorObject[][]): ErrorObject[] | undefined {
  const constant = new RegExp(`^${escapeRegExp(union.schemaPath)}/\\d+/properties/([^/]+)/const$`);
  const mismatchOn = (e: ErrorObject) => {
    const property = constant.exec(e.schemaPath)?.[1];
    return property !== undefined && e.instancePath === `${union.instancePath}/${property}` ? property : undefined;
  };
  for (const property of new Set(members.flat().map(mismatchOn))) {
    if (property === undefined) continue;
    const named = members.filter((list) => !list.some((e) => mismatchOn(e) === property));
    // The value names one member: only that member's errors matter.
    if (named.length === 1) return named[0];
    // The value names no member: one error listing the allowed values.
    if (named.length === 0) {
      const allowedValues = members
        .flat()
        .filter((e) => mismatchOn(e) === property)
        .map((e) => (e.params as { allowedValue: unknown }).allowedValue);
      return [
        { ...union, instancePath: `${union.instancePath}/${property}`, keyword: 'enum', params: { allowedValues } },
      ];
    }
  }
  // The value lacks a property every member requires (the discriminator itself, when it is absent).
  const missing = (e: ErrorObject) =>
    e.keyword === 'required' ? String((e.params as { missingProperty: unknown }).missingProperty) : undefined;
  const missingEverywhere = members[0]!
    .map(missing)
    .find((property) => property !== undefined && members.every((list) => list.some((e) => missing(e) === property)));
  if (missingEverywhere !== undefined) {
    return [{ ...union, keyword: 'required', params: { missingProperty: missingEverywhere } }];
  }
  // Every member fails the same way (e.g. `must be object`): say it once.
  const signature = (list: ErrorObject[]) =>
    list.map((e) => `${e.instancePath} ${e.keyword} ${JSON.stringify(e.params)}`).join('\n');
  if (members.every((list) => signature(list) === signature(members[0]!))) return members[0];
  return undefined;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// A union of literals reports one `const` error per member plus an `anyOf`; fold those into one line.
function collectErrors(rawErrors: ErrorObject[] | null | undefined): ValidationError[] {
  if (!rawErrors) return [];
  const errors = pruneDiscriminatedUnions(rawErrors);
  const out: ValidationError[] = [];
  const constsByPath = new Map<string, unknown[]>();
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  for (const e of errors) {
    if (e.keyword === 'const' && anyOfPaths.has(e.instancePath)) {
      const list = constsByPath.get(e.instancePath) ?? [];
      list.push((e.params as { allowedValue: unknown }).allowedValue);
      constsByPath.set(e.instancePath, list);
    }
  }
  const seen = new Set<string>();
  const pathsWithOtherErrors = new Set(errors.filter((e) => e.keyword !== 'anyOf').map((e) => e.instancePath));
  for (const e of errors) {
    const folded = constsByPath.get(e.instancePath);
    // A member's own type error says nothing the folded list does not ("must be string" for each literal).
    if (folded && e.keyword === 'type' && e.schemaPath.includes('/anyOf/')) continue;
    // "must match a schema in anyOf" adds nothing when the members said what is wrong at that path.
    if (!folded && e.keyword === 'anyOf' && pathsWithOtherErrors.has(e.instancePath)) continue;
    if (folded && (e.keyword === 'const' || e.keyword === 'anyOf')) {
      if (seen.has(e.instancePath)) continue;
      seen.add(e.instancePath);
      out.push({
        path: joinPath(e.instancePath),
        message: `must be one of: ${folded.map((v) => JSON.stringify(v)).join(', ')}`,
      });
      continue;
    }
    out.push(toValidationError(e));
  }
  const unique = new Map(out.map((e) => [`${e.path}\u0000${e.message}`, e]));
  return [...unique.values()];
}

/** Validate any value against any schema of the contracts (or one built from them). */
export function validateSchema<T>(schema: TSchema, value: unknown): Validation<T> {
  const fn = compile(schema);
  if (fn(value)) return { ok: true, value: value as T };
  return { ok: false, errors: collectErrors(fn.errors) };
}

/** Validate a whole CloudEvent against the contract of its subject; returns every error with its path. */
export function validate<S extends EventSubject>(subject: S, event: unknown): Validation<GraceEvent<S>>;
export function validate(subject: string, event: unknown): Validation<GraceEvent>;
export function validate(subject: string, event: unknown): Validation<GraceEvent> {
  if (!isEventSubject(subject))
    return { ok: false, errors: [{ path: 'type', message: `unknown subject "${subject}"` }] };
  return validateSchema(eventSchema(subject), event);
}

/** Validate only the `data` of an event (before it is wrapped in its envelope). */
export function validateData<S extends EventSubject>(subject: S, data: unknown): Validation<EventData<S>> {
  return validateSchema(events[subject].data, data);
}

export function validateRequest<Q extends QuerySubject>(subject: Q, request: unknown): Validation<QueryRequest<Q>>;
export function validateRequest(subject: string, request: unknown): Validation<unknown>;
export function validateRequest(subject: string, request: unknown): Validation<unknown> {
  if (!isQuerySubject(subject))
    return { ok: false, errors: [{ path: '', message: `unknown query subject "${subject}"` }] };
  return validateSchema((queries as Record<string, { request: TSchema }>)[subject]!.request, request);
}

export function validateReply<Q extends QuerySubject>(subject: Q, reply: unknown): Validation<QueryReply<Q>>;
export function validateReply(subject: string, reply: unknown): Validation<unknown>;
export function validateReply(subject: string, reply: unknown): Validation<unknown> {
  if (!isQuerySubject(subject))
    return { ok: false, errors: [{ path: '', message: `unknown query subject "${subject}"` }] };
  return validateSchema((queries as Record<string, { reply: TSchema }>)[subject]!.reply, reply);
}

export function validateQueryResponse(response: unknown): Validation<QueryResponse> {
  return validateSchema(QueryResponse, response);
}

export function validateDeadLetter(letter: unknown): Validation<DeadLetter> {
  return validateSchema(DeadLetter, letter);
}

/** One readable line: `data.severity: must be one of: "debug", ...; data.message: is required`. */
export function describeErrors(errors: readonly ValidationError[]): string {
  return errors.map((e) => `${e.path || '(root)'}: ${e.message}`).join('; ');
}
