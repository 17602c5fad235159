import { Module } from '@nestjs/common';
import { ObjectNotifications } from './object-notifications';

@Module({ providers: [ObjectNotifications], exports: [ObjectNotifications] })
export class NotificationsModule {}
