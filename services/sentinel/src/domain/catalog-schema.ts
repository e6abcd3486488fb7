// The playbook catalog file's schema: the TypeBox schema of playbooks.yaml and the types of what it holds.
// Template strings are only bounded here; their variables are checked by templates.ts when the file is compiled.
import { ActionName, Adapter, JsonObject, schemas, Severity as SeveritySchema } from '@grace/contracts';
import { AttributeMatches, EntryName, NamePatterns, SeverityPatterns } from '@grace/service-kit';
import { Type, type Static, type TSchema } from '@sinclair/typebox';

const { ActionTimeoutMs, Check, ExpectedEffect } = schemas;

// Regexes come from the operator and run on every triaged error: bounded in length, compiled once.
const RegexSource = Type.String({
  minLength: 1,
  maxLength: 1024,
  description: 'a JavaScript regular expression searched in the message, case-insensitive',
});

const matchFields = {
  service: Type.Optional(NamePatterns),
  environment: Type.Optional(NamePatterns),
  kind: Type.Optional(NamePatterns),
  category: Type.Optional(NamePatterns),
  severity: Type.Optional(SeverityPatterns),
  min_severity: Type.Optional(SeveritySchema),
  message: Type.Optional(RegexSource),
  attributes: Type.Optional(AttributeMatches),
};

const Alternative = Type.Object(matchFields, { additionalProperties: false, minProperties: 1 });

const AppliesTo = Type.Object(
  {
    ...matchFields,
    any: Type.Optional(
      Type.Array(Alternative, {
        minItems: 1,
        maxItems: 32,
        description: 'at least one of these must match as well (each is a set of fields that must all match)',
      }),
    ),
  },
  { additionalProperties: false, description: 'every given field must match; an omitted field matches anything' },
);

// A template string: the schema bounds its length; its variables are checked when the file is read.
const TemplateText = (maxLength: number, extra: object = {}) => Type.String({ minLength: 1, maxLength, ...extra });

const TargetTemplate = Type.Object(
  {
    service: Type.Optional(TemplateText(256, { description: "default '{{service}}'" })),
    environment: Type.Optional(TemplateText(256, { description: "default '{{environment}}'" })),
    namespace: Type.Optional(TemplateText(256, { description: 'kubernetes namespace' })),
    deployment: Type.Optional(TemplateText(512, { description: 'kubernetes Deployment name' })),
    // The scheme is literal so that no error can turn a webhook into another protocol.
    url: Type.Optional(TemplateText(2048, { pattern: '^https?://', description: 'http adapter webhook' })),
  },
  { additionalProperties: false },
);

const PlaybookDefinition = Type.Object(
  {
    name: EntryName,
    description: Type.Optional(Type.String({ maxLength: 1024 })),
    applies_to: AppliesTo,
    adapter: Adapter,
    action: ActionName,
    target: Type.Optional(TargetTemplate),
    params: Type.Optional(JsonObject),
    tier: Type.Union([Type.Literal(1), Type.Literal(2), Type.Literal(3)]),
    expected_effect: ExpectedEffect,
    checks: Type.Array(Check, { maxItems: 32 }),
    timeout_ms: Type.Optional(ActionTimeoutMs),
    cooldown: Type.String({
      minLength: 1,
      maxLength: 16,
      description: 'a whole number and s, m, h or d (0s for none); at most 7d',
    }),
  },
  { additionalProperties: false },
);
export type PlaybookDefinition = Static<typeof PlaybookDefinition>;

export const PlaybookCatalogSchema: TSchema = Type.Object(
  { version: Type.Literal(1), playbooks: Type.Array(PlaybookDefinition, { maxItems: 200 }) },
  { additionalProperties: false },
);
export interface PlaybookCatalogFile {
  version: 1;
  playbooks: PlaybookDefinition[];
}

// Fields that take a value or a list of values (unions in the schema).
export const VALUE_OR_LIST = /^playbooks\.\d+\.applies_to(\.any\.\d+)?\.(service|environment|kind|category|severity)$/;
