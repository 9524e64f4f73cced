// Fleet counts: the API pages devices (at most 500 a page) and has no count endpoint, so the
// console walks the pages of online devices and of all devices, up to a cap.
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export type FetchPage<T> = (cursor: string | null) => Promise<Page<T>>;

export interface Count {
  count: number;
  complete: boolean; // false: the cap was reached, the real number is larger
}

export async function countAll<T>(fetchPage: FetchPage<T>, maxPages = 20): Promise<Count> {
  let count = 0;
  let cursor: string | null = null;
  for (let page = 0; page < maxPages; page += 1) {
    const got: Page<T> = await fetchPage(cursor);
    count += got.items.length;
    if (!got.next_cursor) return { count, complete: true };
    cursor = got.next_cursor;
  }
  return { count, complete: false };
}

export interface FleetCounts {
  total: Count;
  online: Count;
  offline: Count;
}

export function fleetCounts(total: Count, online: Count): FleetCounts {
  return {
    total,
    online,
    offline: { count: Math.max(0, total.count - online.count), complete: total.complete && online.complete },
  };
}

export const shown = (c: Count): string => (c.complete ? String(c.count) : `${c.count}+`);

/** Cursor pages backwards and forwards: the stack of cursors that led to the current page. */
export class Pager {
  private trail: (string | null)[] = [null];

  get cursor(): string | null {
    return this.trail[this.trail.length - 1];
  }

  get page(): number {
    return this.trail.length;
  }

  get hasPrevious(): boolean {
    return this.trail.length > 1;
  }

  next(cursor: string): void {
    this.trail.push(cursor);
  }

  previous(): void {
    if (this.trail.length > 1) this.trail.pop();
  }

  reset(): void {
    this.trail = [null];
  }
}
