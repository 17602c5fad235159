import { ApiProperty } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayNotEmpty, IsArray, IsIn, IsString, Matches } from 'class-validator';
import { KEY_NAME_PATTERN, KEY_NAME_RULE, TEAM_PATTERN, TEAM_RULE } from '../key-rules';
import { SCOPES, Scope } from '../principal';

const KEY_ID = '8d0f1c9e-3b7a-4c55-9a0e-2f4b6d8c1a37';

export class CreateApiKeyDto {
  @ApiProperty({ example: 'billing-importer', description: `What the key is for: ${KEY_NAME_RULE}`, maxLength: 100 })
  @IsString()
  @Matches(KEY_NAME_PATTERN, { message: `name must be ${KEY_NAME_RULE}` })
  name!: string;

  @ApiProperty({ example: 'billing', description: `The team the key acts for: ${TEAM_RULE}`, maxLength: 100 })
  @IsString()
  @Matches(TEAM_PATTERN, { message: `team must be ${TEAM_RULE}` })
  team!: string;

  @ApiProperty({
    type: 'array',
    items: { type: 'string', enum: [...SCOPES] },
    example: ['read', 'write'],
    description: 'read: see and follow objects; write: submit, cancel, retry, delete; admin: keys and every team (implies read and write)',
  })
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(3)
  @IsIn(SCOPES, { each: true })
  scopes!: Scope[];
}

export class ApiKeyResponse {
  @ApiProperty({ format: 'uuid', example: KEY_ID }) id!: string;
  @ApiProperty({ example: 'billing-importer' }) name!: string;
  @ApiProperty({ example: 'billing' }) team!: string;
  @ApiProperty({ type: 'array', items: { type: 'string', enum: [...SCOPES] }, example: ['read', 'write'] }) scopes!: Scope[];
  @ApiProperty({ format: 'date-time', example: '2026-01-01T12:00:00.000Z' }) created_at!: string;
  @ApiProperty({
    type: String,
    nullable: true,
    format: 'date-time',
    example: null,
    description: 'When it was revoked; null while it works',
  })
  revoked_at!: string | null;
}

export class CreatedApiKeyResponse extends ApiKeyResponse {
  @ApiProperty({
    example: `opsk_${KEY_ID.replaceAll('-', '')}_Q2hhbmdlIG1lOiB0aGlzIGlzIGFuIGV4YW1wbGUga2V5IQ`,
    description: 'The key, shown this once: only its hash is kept. Send it as Authorization: Bearer <key>.',
  })
  key!: string;
}

export class ApiKeyListResponse {
  @ApiProperty({ type: [ApiKeyResponse] }) items!: ApiKeyResponse[];
}

export class StreamTokenResponse {
  @ApiProperty({
    example: 'opst_3q2-7wD1yW0mZ1cz3WmQ8vX9n0bTqQ4fJ2hS6dLkP1E',
    description: "Opens this object's progress stream as ?access_token=…",
  })
  token!: string;
  @ApiProperty({
    format: 'date-time',
    example: '2026-01-01T12:05:00.000Z',
    description: 'Until when it opens new connections (STREAM_TOKEN_TTL_SECONDS after issue)',
  })
  expires_at!: string;
  @ApiProperty({
    example: '/api/v1/progress/550e8400-e29b-41d4-a716-446655440000/stream?access_token=opst_3q2-7wD1yW0mZ1cz3WmQ8vX9n0bTqQ4fJ2hS6dLkP1E',
    description: "The stream's path with the token, for new EventSource(…)",
  })
  stream_url!: string;
}
