import { AppConfig } from '../config/app-config';
import { JobName } from './jobs';
import { objectJob } from './object-job';

describe('objectJob', () => {
  const { jobs } = new AppConfig({ JOB_ATTEMPTS: '4', JOB_BACKOFF_MS: '1500' });

  it('is the job of the object’s current run, retried with backoff as configured, carrying where it came from', () => {
    expect(objectJob({ id: 'a', taskId: 'a.3', priority: 5 }, jobs, { reqId: 'r-1' })).toEqual({
      name: JobName.ProcessObject,
      data: { objectId: 'a', origin: { reqId: 'r-1' } },
      opts: expect.objectContaining({
        jobId: 'a.3',
        attempts: 4,
        backoff: { type: 'exponential', delay: 1500 },
        removeOnFail: false,
      }) as unknown,
    });
  });

  it('starts the highest API priority (10) first: BullMQ starts its lowest number first', () => {
    const priorities = [1, 5, 10].map((priority) => objectJob({ id: 'a', taskId: 'a.1', priority }, jobs, {}).opts.priority);
    expect(priorities).toEqual([10, 6, 1]);
  });
});
