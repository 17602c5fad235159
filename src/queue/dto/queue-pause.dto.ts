import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsString, Length } from 'class-validator';
import { PAUSE_MODES, type PauseMode } from '../queue-pause.entity';

export class PauseQueueDto {
  @ApiProperty({
    example: 'Database maintenance until 23:00 UTC',
    description: 'Why, shown in /api/v1/status (1-500 characters)',
    minLength: 1,
    maxLength: 500,
  })
  @IsString()
  @Length(1, 500)
  reason!: string;

  @ApiProperty({
    enum: PAUSE_MODES,
    example: 'drain',
    description:
      'drain: running objects finish, nothing new starts. stop: running objects are handed back to the queue before their next operation (no attempt spent, completed operations kept) and resume from there.',
  })
  @IsIn(PAUSE_MODES)
  mode!: PauseMode;
}

export class QueuePauseResponse {
  @ApiProperty({ example: true, description: 'True while the objects queue takes no new objects' }) paused!: boolean;
  @ApiProperty({
    type: String,
    enum: [...PAUSE_MODES, null],
    nullable: true,
    example: 'drain',
    description: 'How it was paused; null while running',
  })
  mode!: PauseMode | null;
  @ApiProperty({ type: String, nullable: true, example: 'Database maintenance until 23:00 UTC' }) reason!: string | null;
  @ApiProperty({
    type: String,
    nullable: true,
    format: 'date-time',
    example: '2026-01-01T12:00:00.000Z',
    description: 'Paused since (a later pause that changes the mode or reason keeps it)',
  })
  since!: string | null;
  @ApiProperty({
    type: String,
    nullable: true,
    format: 'uuid',
    example: '8d0f1c9e-3b7a-4c55-9a0e-2f4b6d8c1a37',
    description: 'The API key that paused it; null when access control is off or while running',
  })
  paused_by_key_id!: string | null;
  @ApiProperty({
    type: String,
    nullable: true,
    example: 'ops-admin',
    description: "That key's name ('open access' when access control is off)",
  })
  paused_by_key_name!: string | null;
}
