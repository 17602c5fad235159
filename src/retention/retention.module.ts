import { Module } from '@nestjs/common';
import { SqlModule } from '../database/sql.module';
import { RetentionRepository } from './retention.repository';

@Module({ imports: [SqlModule], providers: [RetentionRepository], exports: [RetentionRepository] })
export class RetentionModule {}
