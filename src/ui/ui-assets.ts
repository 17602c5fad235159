import { Injectable, OnModuleInit } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The page's files: next to this module in src/ui/assets, copied to dist/src/ui/assets by `nest build`. */
export const UI_ASSET_DIRECTORY = join(__dirname, 'assets');

export interface UiAsset {
  readonly body: Buffer;
  readonly contentType: string;
  /** A strong validator: the hash of the body. */
  readonly etag: string;
  /** The hash that versions the asset's URL in the page (`?v=`). */
  readonly version: string;
}

/** Files the page references by name, each served at /ui/<name>. */
export const UI_STATIC_FILES = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
} as const;

export type UiStaticFile = keyof typeof UI_STATIC_FILES;

const PAGE_FILE = 'index.html';

/** Reads the page and its assets once at start-up (a missing file fails the start), hashing each for ETags and cache-busting URLs. */
@Injectable()
export class UiAssets implements OnModuleInit {
  private page?: UiAsset;
  private readonly files = new Map<UiStaticFile, UiAsset>();

  async onModuleInit(): Promise<void> {
    for (const [name, contentType] of Object.entries(UI_STATIC_FILES) as [UiStaticFile, string][]) {
      this.files.set(name, asset(await readFile(join(UI_ASSET_DIRECTORY, name)), contentType));
    }
    let html = await readFile(join(UI_ASSET_DIRECTORY, PAGE_FILE), 'utf8');
    for (const [name, file] of this.files) {
      // The page names its assets by absolute path; a version query lets browsers keep them until they change.
      html = html.split(`"/ui/${name}"`).join(`"/ui/${name}?v=${file.version}"`);
    }
    this.page = asset(Buffer.from(html, 'utf8'), 'text/html; charset=utf-8');
  }

  get html(): UiAsset {
    if (!this.page) {
      throw new Error('UI assets are not loaded yet');
    }
    return this.page;
  }

  file(name: UiStaticFile): UiAsset {
    const file = this.files.get(name);
    if (!file) {
      throw new Error(`UI asset ${name} is not loaded`);
    }
    return file;
  }
}

function asset(body: Buffer, contentType: string): UiAsset {
  const version = createHash('sha256').update(body).digest('base64url').slice(0, 16);
  return { body, contentType, etag: `"${version}"`, version };
}
