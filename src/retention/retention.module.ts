import { Module } from '@nestjs/common';
import { RetentionRepository } from './retention.repository';

@Module({ providers: [RetentionRepository], exports: [RetentionRepository] })
export class RetentionModule {}
