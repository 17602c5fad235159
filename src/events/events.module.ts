import { Global, Module } from '@nestjs/common';
import { ObjectEvents } from './object-events';

@Global()
@Module({ providers: [ObjectEvents], exports: [ObjectEvents] })
export class EventsModule {}
