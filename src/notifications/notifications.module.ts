import { Module } from '@nestjs/common';
import { RedisModule } from '../redis/redis.module';
import { ObjectNotifications } from './object-notifications';

@Module({ imports: [RedisModule], providers: [ObjectNotifications], exports: [ObjectNotifications] })
export class NotificationsModule {}
