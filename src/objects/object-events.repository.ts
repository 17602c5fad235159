import { Injectable } from '@nestjs/common';
import { EntityManager } from '@mikro-orm/postgresql';
import { ObjectEventRecord, ObjectEventSchema } from './object-event.entity';
import { ProcessingObjectSchema } from './processing-object.entity';

/** Reads of the objects' event log (object_events); ObjectStateStore writes it, with each change. */
@Injectable()
export class ObjectEventsRepository {
  constructor(private readonly em: EntityManager) {}

  /** The recorded events of an object after `afterSeq`, oldest first. */
  async eventsAfter(objectId: string, afterSeq: number, limit = 1000): Promise<ObjectEventRecord[]> {
    const events = await this.em.fork().find(
      ObjectEventSchema,
      { object: objectId, seq: { $gt: afterSeq } },
      { fields: ['seq', 'kind', 'operation', 'snapshot'], orderBy: { seq: 'asc' }, limit, disableIdentityMap: true },
    );
    return events.map(({ seq, kind, operation, snapshot }) => ({ seq, kind, operation: operation ?? null, snapshot }));
  }

  /**
   * The object's version: every change after its creation is recorded as the event of that sequence
   * number, so this is the latest event, or its creation (version 1, which records none); 0 once it is gone.
   */
  async currentVersion(objectId: string): Promise<number> {
    const object = await this.em.fork().findOne(ProcessingObjectSchema, { id: objectId }, { fields: ['version'], disableIdentityMap: true });
    return object?.version ?? 0;
  }
}
