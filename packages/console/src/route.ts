// A tiny hash router: #/incidents, #/incidents/<id>, #/approvals, #/contracts/<id>, #/chat, #/analytics, #/admin.
import { useEffect, useState } from 'react';

export const TABS = ['incidents', 'approvals', 'contracts', 'chat', 'analytics', 'admin'] as const;
export type Tab = (typeof TABS)[number];

export const TAB_LABELS: Record<Tab, string> = {
  incidents: 'Incidents',
  approvals: 'Approvals',
  contracts: 'Contracts',
  chat: 'Chat',
  analytics: 'Analytics',
  admin: 'Admin',
};

export interface Route {
  tab: Tab;
  id?: string;
}

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/');
  const tab = (TABS as readonly string[]).includes(parts[0] ?? '') ? (parts[0] as Tab) : 'incidents';
  let id: string | undefined;
  if (parts[1]) {
    try {
      id = decodeURIComponent(parts.slice(1).join('/'));
    } catch {
      id = undefined;
    }
  }
  return id ? { tab, id } : { tab };
}

export function href(tab: Tab, id?: string): string {
  return id ? `#/${tab}/${encodeURIComponent(id)}` : `#/${tab}`;
}

export function navigate(tab: Tab, id?: string): void {
  window.location.hash = href(tab, id);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}
