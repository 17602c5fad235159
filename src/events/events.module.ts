import { Module } from '@nestjs/common';
import { RedisModule } from '../redis/redis.module';
import { ObjectEvents } from './object-events';

@Module({ imports: [RedisModule], providers: [ObjectEvents], exports: [ObjectEvents] })
export class EventsModule {}
