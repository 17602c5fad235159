import { Global, Module } from '@nestjs/common';
import { ObjectNotifications } from './object-notifications';

@Global()
@Module({ providers: [ObjectNotifications], exports: [ObjectNotifications] })
export class NotificationsModule {}
