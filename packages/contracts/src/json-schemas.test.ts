import { describe, expect, it } from '@jest/globals';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEvent } from './create.js';
import { eventExamples } from './examples.js';
import type { EventData, EventSubject } from './subjects.js';
import { jsonSchemaDocuments } from './json-schemas.js';

const root = fileURLToPath(new URL('../schemas/', import.meta.url));
const list = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? list(path).map((p) => `${name}/${p}`) : [name];
  });

describe('the JSON Schema files', () => {
  it('match the TypeBox sources (regenerate with `pnpm --filter @grace/contracts schemas`)', () => {
    const docs = jsonSchemaDocuments();
    expect(list(root).sort()).toEqual(Object.keys(docs).sort());
    for (const [file, doc] of Object.entries(docs)) {
      expect(JSON.parse(readFileSync(join(root, file), 'utf8'))).toEqual(doc);
    }
  });

  it('validate the examples on their own, with a plain ajv and no TypeBox', () => {
    const ajv = new Ajv({ allErrors: true, strict: false });
    (addFormatsModule as unknown as (a: Ajv) => void)(ajv);
    for (const [subject, data] of Object.entries(eventExamples)) {
      const event = createEvent(subject as EventSubject, data as EventData<EventSubject>, { source: 'test/schemas' });
      const schema = JSON.parse(readFileSync(join(root, 'events', `${subject}.json`), 'utf8')) as object;
      const validate = ajv.compile(schema);
      expect({ subject, valid: validate(event), errors: validate.errors ?? null }).toEqual({
        subject,
        valid: true,
        errors: null,
      });
    }
  });
});
