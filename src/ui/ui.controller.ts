import { Controller, Get, Headers, Query, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { PublicAccess } from '../access/access.decorator';
import type { FastifyReply } from 'fastify';
import { UiAsset, UiAssets, UiStaticFile } from './ui-assets';

/** The page revalidates on every load (cheap: an ETag); assets fetched by their versioned URL never change. */
const PAGE_CACHE = 'no-cache';
const VERSIONED_ASSET_CACHE = 'public, max-age=31536000, immutable';
const UNVERSIONED_ASSET_CACHE = 'public, max-age=300, must-revalidate';

/**
 * The browser page: /ui, /ui/app.js and /ui/app.css, all read from src/ui/assets at start-up. Its security
 * headers are everyone's (src/edge/security-headers.ts): a policy that lets it load only its own files and
 * talk only to this service, and no framing.
 */
@ApiExcludeController()
@PublicAccess()
@Controller('ui')
export class UiController {
  constructor(private readonly assets: UiAssets) {}

  @Get()
  page(@Headers('if-none-match') ifNoneMatch: string | undefined, @Res() reply: FastifyReply): void {
    send(reply, this.assets.html, PAGE_CACHE, ifNoneMatch);
  }

  @Get('app.js')
  script(
    @Query('v') version: string | undefined,
    @Headers('if-none-match') ifNoneMatch: string | undefined,
    @Res() reply: FastifyReply,
  ): void {
    this.sendFile('app.js', version, ifNoneMatch, reply);
  }

  @Get('app.css')
  styles(
    @Query('v') version: string | undefined,
    @Headers('if-none-match') ifNoneMatch: string | undefined,
    @Res() reply: FastifyReply,
  ): void {
    this.sendFile('app.css', version, ifNoneMatch, reply);
  }

  private sendFile(name: UiStaticFile, version: string | undefined, ifNoneMatch: string | undefined, reply: FastifyReply): void {
    const file = this.assets.file(name);
    send(reply, file, version === file.version ? VERSIONED_ASSET_CACHE : UNVERSIONED_ASSET_CACHE, ifNoneMatch);
  }
}

function send(reply: FastifyReply, asset: UiAsset, cacheControl: string, ifNoneMatch: string | undefined): void {
  reply.header('cache-control', cacheControl).header('etag', asset.etag);
  if (matches(ifNoneMatch, asset.etag)) {
    void reply.status(304).send();
    return;
  }
  void reply.status(200).header('content-type', asset.contentType).send(asset.body);
}

/** If-None-Match: a list of entity tags, compared weakly (RFC 9110 §13.1.2), or `*`. */
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) {
    return false;
  }
  return ifNoneMatch.split(',').some((candidate) => {
    const tag = candidate.trim();
    return tag === '*' || tag.replace(/^W\//, '') === etag;
  });
}
