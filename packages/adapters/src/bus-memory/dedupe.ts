/** Remembers the last `capacity` message ids so redelivered messages are handled once. */
export class RecentIds {
  private readonly ids = new Set<string>();
  private readonly order: string[] = [];
  private head = 0;
  constructor(private readonly capacity = 100_000) {}
  /** true the first time an id is seen */
  add(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    this.order.push(id);
    if (this.order.length - this.head > this.capacity) {
      this.ids.delete(this.order[this.head++]!);
      if (this.head > 4096) {
        this.order.splice(0, this.head);
        this.head = 0;
      }
    }
    return true;
  }
}
