import { describe, expect, it } from 'vitest';
import { nextCronTime, parseCron, previousCronTime, toAwsCron } from '../../lib/schedule/cron.js';
import { makeTrigger, nextFire, toAwsExpression } from '../../lib/schedule/trigger.js';

/** The next `count` fires after `from`, as ISO strings. */
function fires(cron: string, timezone: string, from: string, count: number): string[] {
  const parsed = parseCron(cron);
  const out: string[] = [];
  let t = Date.parse(from);
  for (let i = 0; i < count; i++) {
    const next = nextCronTime(parsed, timezone, t);
    if (next === undefined) break;
    out.push(new Date(next).toISOString());
    t = next;
  }
  return out;
}

describe('cron in a time zone, computed through the clock (not waited)', () => {
  it('GIVEN 02:30 daily in Berlin WHEN clocks go forward (02:30 does not exist) THEN that day does not fire, as on EventBridge Scheduler', () => {
    expect(fires('30 2 * * *', 'Europe/Berlin', '2027-03-26T00:00:00Z', 4)).toEqual([
      '2027-03-26T01:30:00.000Z', // CET, UTC+1
      '2027-03-27T01:30:00.000Z',
      // 2027-03-28: 02:00 → 03:00, no 02:30
      '2027-03-29T00:30:00.000Z', // CEST, UTC+2
      '2027-03-30T00:30:00.000Z',
    ]);
  });

  it('GIVEN 02:30 daily in Berlin WHEN clocks go back (02:30 happens twice) THEN it fires once, at the first', () => {
    expect(fires('30 2 * * *', 'Europe/Berlin', '2027-10-30T12:00:00Z', 3)).toEqual([
      '2027-10-31T00:30:00.000Z', // 02:30 CEST; the 02:30 CET an hour later does not fire
      '2027-11-01T01:30:00.000Z',
      '2027-11-02T01:30:00.000Z',
    ]);
  });

  it('GIVEN hourly in Berlin across the fall-back night THEN the repeated hour fires once', () => {
    expect(fires('0 * * * *', 'Europe/Berlin', '2027-10-30T23:30:00Z', 4)).toEqual([
      '2027-10-31T00:00:00.000Z', // 02:00 CEST
      '2027-10-31T02:00:00.000Z', // 03:00 CET (02:00 CET is the repeat: skipped)
      '2027-10-31T03:00:00.000Z',
      '2027-10-31T04:00:00.000Z',
    ]);
  });

  it('GIVEN every 30 minutes from 01:00 to 03:59 in New York WHEN clocks go forward THEN only existing times fire', () => {
    expect(fires('*/30 1-3 * * *', 'America/New_York', '2027-03-14T05:00:00Z', 5)).toEqual([
      '2027-03-14T06:00:00.000Z', // 01:00 EST
      '2027-03-14T06:30:00.000Z',
      '2027-03-14T07:00:00.000Z', // 03:00 EDT
      '2027-03-14T07:30:00.000Z',
      '2027-03-15T05:00:00.000Z', // next day 01:00 EDT
    ]);
  });

  it('GIVEN weekdays at 09:00 in Tokyo, names and ranges THEN they fire Monday to Friday', () => {
    expect(fires('0 9 * * MON-FRI', 'Asia/Tokyo', '2027-01-01T00:00:00Z', 3)).toEqual([
      '2027-01-04T00:00:00.000Z',
      '2027-01-05T00:00:00.000Z',
      '2027-01-06T00:00:00.000Z',
    ]);
  });

  it('GIVEN a date that is rare THEN the search finds it; the previous fire is found backwards', () => {
    expect(fires('0 0 29 2 *', 'UTC', '2027-01-01T00:00:00Z', 2)).toEqual([
      '2028-02-29T00:00:00.000Z',
      '2032-02-29T00:00:00.000Z',
    ]);
    const previous = previousCronTime(parseCron('30 2 * * *'), 'Europe/Berlin', Date.parse('2027-03-28T12:00:00Z'));
    expect(new Date(previous ?? 0).toISOString()).toBe('2027-03-27T01:30:00.000Z');
  });

  it('GIVEN Unix cron THEN the EventBridge form has weekday names and ? in the free day field', () => {
    const aws = (cron: string) => toAwsCron(parseCron(cron));
    expect(aws('0 2 * * *')).toBe('cron(0 2 * * ? *)');
    expect(aws('0 9 * * 1-5')).toBe('cron(0 9 ? * MON,TUE,WED,THU,FRI *)');
    expect(aws('*/15 * * * *')).toBe('cron(0,15,30,45 * * * ? *)');
    expect(aws('15 10 1,15 */2 *')).toBe('cron(15 10 1,15 1,3,5,7,9,11 ? *)');
    expect(aws('0 0 * * 7')).toBe('cron(0 0 ? * SUN *)');
    expect(aws('@weekly')).toBe('cron(0 0 ? * SUN *)');
    expect(aws('0-10 * * * *')).toBe('cron(0-10 * * * ? *)');
  });

  it('GIVEN bad cron expressions THEN the error names the field, the value and what is allowed', () => {
    expect(() => parseCron('61 * * * *')).toThrow(/the minute field "61" has 61, out of range; allowed: 0–59/);
    expect(() => parseCron('* * * *')).toThrow(
      /has 4 field\(s\); expected 5: "minute hour day-of-month month day-of-week"/,
    );
    expect(() => parseCron('0 0 1 * MON')).toThrow(/restricts both the day of month and the day of week/);
    expect(() => parseCron('0 0 * * FOO')).toThrow(/day of week field "FOO".*allowed: 0–7 or SUN–SAT/);
    expect(() => parseCron('5-1 * * * *')).toThrow(/range 5-1 going backwards/);
    expect(() => makeTrigger({ cron: '0 2 * * *', timezone: 'Mars/Olympus' }, 'x')).toThrow(
      /time zone "Mars\/Olympus" is not an IANA time zone name/,
    );
  });
});

describe('rates', () => {
  it('GIVEN a rate THEN fires sit on the epoch grid and the AWS form is whole minutes', () => {
    const every5 = makeTrigger({ every: '5 minutes' }, 'x');
    expect(new Date(nextFire(every5, Date.parse('2026-11-22T10:07:30Z')) ?? 0).toISOString()).toBe(
      '2026-11-22T10:10:00.000Z',
    );
    expect(toAwsExpression(every5, 'x')).toBe('rate(5 minutes)');
    expect(toAwsExpression(makeTrigger({ every: '60 minutes' }, 'x'), 'x')).toBe('rate(1 hour)');
    expect(toAwsExpression(makeTrigger({ every: '2 days' }, 'x'), 'x')).toBe('rate(2 days)');
    expect(() => toAwsExpression(makeTrigger({ every: '30 seconds' }, 'x'), 'beat')).toThrow(
      /schedule 'beat': every "30 seconds" cannot run on EventBridge Scheduler, whose smallest rate is 1 minute/,
    );
  });

  it('GIVEN bad definitions THEN each error says what is allowed', () => {
    expect(() => makeTrigger({ every: 'often' }, 'x')).toThrow(/every "often" is not a rate; write "<n> <unit>"/);
    expect(() => makeTrigger({ every: '0 seconds' }, 'x')).toThrow(/not a rate/);
    expect(() => makeTrigger({}, 'x')).toThrow(/give exactly one of cron .* and every/);
    expect(() => makeTrigger({ every: '1 hour', timezone: 'UTC' }, 'x')).toThrow(
      /timezone applies to cron schedules only/,
    );
  });
});
