import type { ApiKey } from './api-key.entity';
import type { ApiKeyResponse } from './dto/api-keys.dto';

export function toApiKeyView(key: ApiKey): ApiKeyResponse {
  return {
    id: key.id,
    name: key.name,
    team: key.team,
    scopes: key.scopes,
    created_at: key.createdAt.toISOString(),
    revoked_at: key.revokedAt?.toISOString() ?? null,
  };
}
