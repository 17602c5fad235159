import { taskIdFor } from '../queue/jobs';

/** The answer to an accepted submission (202). */
export interface SubmissionResponse {
  id: string;
  identifier: string;
  state: 'queued';
  task_id: string;
  message: string;
}

/** One item of a batch's answer, in the order of the request: accepted with its submission's answer, or refused with its error. */
export type BatchItemResult =
  | { index: number; status: 202; result: SubmissionResponse }
  | { index: number; status: number; error: { statusCode: number; error: string; message: string; code: string; details?: unknown } };

/** The answer to POST /api/v1/process/batch. */
export interface BatchResponse {
  accepted: number;
  refused: number;
  items: BatchItemResult[];
}

/** What an Idempotency-Key keeps: the answer of a submission or of a batch. */
export type KeptResponse = SubmissionResponse | BatchResponse;

export function firstResponse(object: { id: string; identifier: string }): SubmissionResponse {
  return { id: object.id, identifier: object.identifier, state: 'queued', task_id: taskIdFor(object.id, 1), message: 'Object queued for processing' };
}
