import { readFileSync } from 'node:fs';
import { join } from 'node:path';

function packageVersion(): string {
  for (const candidate of [join(__dirname, '..', '..', 'package.json'), join(__dirname, '..', '..', '..', 'package.json')]) {
    try {
      return (JSON.parse(readFileSync(candidate, 'utf8')) as { version: string }).version;
    } catch {
      // Not in this layout (source or built): the next candidate.
      continue;
    }
  }
  return '0.0.0';
}

export const SERVICE_NAME = 'object-processing-service';
export const SERVICE_VERSION = packageVersion();
