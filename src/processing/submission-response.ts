import { taskIdFor } from '../queue/jobs';

/** The answer to an accepted submission (202). */
export interface SubmissionResponse {
  id: string;
  identifier: string;
  state: 'queued';
  task_id: string;
  message: string;
  webhook_secret?: string;
}

export function firstResponse(object: { id: string; identifier: string; webhook?: { secret: string } | null }): SubmissionResponse {
  return {
    id: object.id,
    identifier: object.identifier,
    state: 'queued',
    task_id: taskIdFor(object.id, 1),
    message: 'Object queued for processing',
    ...(object.webhook ? { webhook_secret: object.webhook.secret } : {}),
  };
}
