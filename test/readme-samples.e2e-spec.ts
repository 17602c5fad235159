import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import type { ProgressResponse } from '../src/objects/dto/object.responses';
import { closeDatabase } from './support/database';
import { waitUntilSettled } from './support/objects';
import { TestApp, startTestApp, uniqueIdentifier } from './support/test-app';

const ROOT = join(__dirname, '..');

interface UploadExample {
  operations: string[];
  file: string;
}

/** The README's upload examples: `curl … -F 'operations=[…]' -F file=@<path>`. */
function readmeUploads(): UploadExample[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  return [...readme.matchAll(/-F 'operations=(\[[^\]]*\])' -F file=@(\S+)/g)].map(([, operations, file]) => ({
    operations: JSON.parse(operations!) as string[],
    file: file!,
  }));
}

describe("the README's upload examples", () => {
  const examples = readmeUploads();
  let service: TestApp;

  beforeAll(async () => {
    service = await startTestApp();
  });

  afterAll(async () => {
    await service?.close();
    await closeDatabase();
  });

  it('exist, and use sample files committed in the repository, a few KB each', () => {
    expect(examples.length).toBeGreaterThanOrEqual(2);
    for (const { file } of examples) {
      expect(file.startsWith('docs/samples/')).toBe(true);
      expect(statSync(join(ROOT, file)).size).toBeLessThan(16 * 1024);
    }
  });

  it.each(readmeUploads().map((example) => [example.file, example] as const))(
    '%s uploads and completes every operation',
    async (_file, { operations, file }) => {
      const response = await request(service.baseUrl)
        .post('/api/v1/process')
        .field('identifier', uniqueIdentifier('readme'))
        .field('operations', JSON.stringify(operations))
        .attach('file', join(ROOT, file))
        .expect(202);
      const settled: ProgressResponse = await waitUntilSettled(service.baseUrl, (response.body as { id: string }).id);
      expect({ state: settled.state, error: settled.error_message }).toEqual({ state: 'completed', error: null });
      for (const operation of operations) {
        expect(Object.keys(settled.s3_artifacts)).toContain(operation);
      }
    },
  );
});
