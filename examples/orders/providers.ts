/**
 * Stand-ins for the outside world the example talks to: a payment provider and an e-mail
 * provider. In-memory, so the example runs anywhere.
 */

/** A payment provider that, like Stripe, records one charge per idempotency key. */
export class FakePayments {
  readonly charges = new Map<string, { orderId: string; amountCents: number }>();
  /** Calls made, including ones answered from the idempotency cache. */
  calls = 0;

  /** Charge once per idempotency key; a repeated key returns the first charge's id. */
  async charge(input: { orderId: string; amountCents: number; idempotencyKey: string }): Promise<string> {
    this.calls++;
    await new Promise((r) => setTimeout(r, 20));
    if (!this.charges.has(input.idempotencyKey)) {
      this.charges.set(input.idempotencyKey, { orderId: input.orderId, amountCents: input.amountCents });
    }
    return `ch_${input.idempotencyKey.slice(0, 10)}`;
  }
}

/** An e-mail provider that times out on every first try and always bounces one address. */
export class FlakyMail {
  readonly sent: string[] = [];
  readonly tries = new Map<string, number>();

  async send(to: string): Promise<void> {
    const tries = (this.tries.get(to) ?? 0) + 1;
    this.tries.set(to, tries);
    await new Promise((r) => setTimeout(r, 10));
    if (to.startsWith('bounce@')) throw new Error(`mailbox ${to} does not exist (550)`);
    if (tries === 1) throw new Error('provider timed out (504)');
    this.sent.push(to);
  }
}
