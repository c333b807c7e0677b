// @ts-check
/* global window, document, localStorage, location, navigator, console, setTimeout, clearTimeout, requestAnimationFrame, MutationObserver, URLSearchParams, HTMLElement, Element, fetch */
/**
 * mai-usage loader — the script Open WebUI loads on every page (`/static/loader.js`).
 *
 * Served by the sidecar at `/panel/loader.js` with the sidecar's public URL baked in below
 * (PUBLIC_SIDECAR_URL, else the URL it was fetched from); that file is what operators mount
 * over Open WebUI's loader (DESIGN §4). It:
 *   - waits for Open WebUI's settings modal and adds a "Usage" tab to the Admin tabs and a
 *     "My usage" tab to the personal tabs;
 *   - imports the panel bundle from the sidecar only when one of those tabs is opened, and
 *     renders <mai-usage-dashboard> / <mai-my-usage> with the signed-in user's token;
 *   - offers a small floating "Usage" button when the settings modal is open but its structure
 *     is not the one it knows (another Open WebUI version);
 *   - never throws into Open WebUI's page: if the sidecar is down it shows a quiet notice.
 * Deep links: `/?settings=admin:usage` and `/?settings=my-usage` open the tabs directly.
 */
(() => {
  const SIDECAR_URL = '__MAI_USAGE_SIDECAR_URL__';
  const BUNDLE_URL = `${SIDECAR_URL}/panel/mai-usage-panel.js`;
  const TAB_ATTR = 'data-mai-usage-tab';
  const FALLBACK_DELAY_MS = 2500;

  /** @type {Window & { __maiUsageLoader?: boolean }} */
  const w = window;
  if (w.__maiUsageLoader || SIDECAR_URL.startsWith('__')) return;
  w.__maiUsageLoader = true;

  const labels = {
    en: {
      admin: 'Usage',
      user: 'My usage',
      group: 'Billing',
      down: 'Usage data is unavailable right now. Open WebUI keeps working; try again later.',
      close: 'Close',
    },
    pl: {
      admin: 'Zużycie',
      user: 'Moje zużycie',
      group: 'Rozliczenia',
      down: 'Dane o zużyciu są teraz niedostępne. Open WebUI działa normalnie; spróbuj później.',
      close: 'Zamknij',
    },
  };
  const lang = () => {
    const locale = document.documentElement.lang || localStorage.getItem('locale') || navigator.language || 'en';
    return locale.toLowerCase().startsWith('pl') ? 'pl' : 'en';
  };
  const text = () => labels[lang()];
  const theme = () => (document.documentElement.classList.contains('dark') ? 'dark' : 'light');

  // The settings modal consumes ?settings=… on start; remember what was asked for.
  const initialSettings = new URLSearchParams(location.search).get('settings');
  /** @type {'admin' | 'user' | null} */
  let deepLink = initialSettings === 'admin:usage' ? 'admin' : initialSettings === 'my-usage' ? 'user' : null;

  /** @type {Promise<unknown> | undefined} */
  let bundle;
  // A <script type="module" crossorigin="anonymous">, not import(): import() from this script
  // would inherit Open WebUI's crossorigin="use-credentials", which a CORS "*" answer fails.
  const loadBundle = () => {
    bundle ??= new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.type = 'module';
      script.crossOrigin = 'anonymous';
      script.src = BUNDLE_URL;
      script.setAttribute('data-mai-usage-bundle', '');
      script.addEventListener('load', () => resolve(undefined));
      script.addEventListener('error', () => {
        script.remove();
        bundle = undefined; // try again next time the tab opens
        reject(new Error(`cannot load ${BUNDLE_URL}`));
      });
      document.head.append(script);
    });
    return bundle;
  };

  /** Renders a page element into `host`, or the quiet notice when the sidecar cannot be reached. */
  const mount = (/** @type {HTMLElement} */ host, /** @type {'admin' | 'user'} */ kind) => {
    host.textContent = '';
    loadBundle().then(
      () => {
        if (!host.isConnected) return;
        const element = document.createElement(kind === 'admin' ? 'mai-usage-dashboard' : 'mai-my-usage');
        element.setAttribute('api-base', SIDECAR_URL);
        element.setAttribute('token', localStorage.getItem('token') ?? '');
        element.setAttribute('lang', lang());
        element.setAttribute('theme', theme());
        host.replaceChildren(element);
      },
      (error) => {
        console.warn('mai-usage: the usage panel could not be loaded', error);
        const notice = document.createElement('p');
        notice.setAttribute('role', 'status');
        notice.setAttribute('data-mai-usage-notice', '');
        notice.style.cssText = 'padding:1rem;font-size:0.875rem;opacity:0.75';
        notice.textContent = text().down;
        host.replaceChildren(notice);
      },
    );
  };

  // ---- Tabs inside Open WebUI's settings modal (0.12: nav#settings-tabs-container) ----

  /** @type {{ kind: 'admin' | 'user', button: HTMLElement, host: HTMLElement, panel: HTMLElement, restore: () => void } | null} */
  let active = null;

  const deactivate = () => {
    if (!active) return;
    active.restore();
    active = null;
  };

  const activate = (/** @type {'admin' | 'user'} */ kind, /** @type {HTMLElement} */ nav) => {
    const button = nav.querySelector(`[${TAB_ATTR}="${kind}"]`);
    const panel = /** @type {HTMLElement | null} */ (nav.nextElementSibling?.firstElementChild ?? null);
    if (!(button instanceof HTMLElement) || !panel) return;
    if (active?.kind === kind && active.host.isConnected) return;
    deactivate();
    const selected = /** @type {HTMLElement[]} */ ([...nav.querySelectorAll('[role="tab"][aria-selected="true"]')]);
    const inactiveClass =
      nav.querySelector('[role="tab"][aria-selected="false"]:not([' + TAB_ATTR + '])')?.className ?? '';
    const saved = selected.map((tab) => ({ tab, className: tab.className }));
    for (const tab of selected) {
      tab.setAttribute('aria-selected', 'false');
      if (inactiveClass) tab.className = inactiveClass;
    }
    const ownClass = button.className;
    if (saved[0]) button.className = saved[0].className;
    button.setAttribute('aria-selected', 'true');
    const host = document.createElement('div');
    host.id = `tab-mai-usage-${kind}`;
    host.setAttribute('role', 'tabpanel');
    host.setAttribute('aria-labelledby', button.id);
    host.style.cssText = 'flex:1 1 auto;min-height:0;overflow-y:auto';
    panel.style.display = 'none';
    panel.after(host);
    active = {
      kind,
      button,
      host,
      panel,
      restore: () => {
        host.remove();
        panel.style.display = '';
        button.className = ownClass;
        button.setAttribute('aria-selected', 'false');
        for (const { tab, className } of saved) {
          if (!tab.isConnected) continue;
          tab.className = className;
          tab.setAttribute('aria-selected', 'true');
        }
      },
    };
    mount(host, kind);
  };

  const makeTab = (
    /** @type {'admin' | 'user'} */ kind,
    /** @type {Element} */ tablist,
    /** @type {HTMLElement} */ nav,
  ) => {
    const template =
      tablist.querySelector('[role="tab"][aria-selected="false"]') ?? tablist.querySelector('[role="tab"]');
    const button = document.createElement('button');
    button.type = 'button';
    button.id = `mai-usage-tab-${kind}`;
    button.setAttribute('role', 'tab');
    button.setAttribute(TAB_ATTR, kind);
    button.setAttribute('aria-selected', 'false');
    button.setAttribute('aria-controls', `tab-mai-usage-${kind}`);
    button.className = template?.className ?? '';
    const icon = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    icon.setAttribute('viewBox', '0 0 24 24');
    icon.setAttribute('fill', 'none');
    icon.setAttribute('stroke', 'currentColor');
    icon.setAttribute('stroke-width', '2');
    icon.setAttribute('aria-hidden', 'true');
    icon.setAttribute('class', 'size-3.5');
    icon.innerHTML = '<path d="M3 3v18h18"/><path d="M7 15l4-4 3 3 5-6"/>';
    const label = document.createElement('span');
    label.textContent = kind === 'admin' ? text().admin : text().user;
    button.append(icon, label);
    button.addEventListener('click', () => activate(kind, nav));
    if (kind === 'admin') {
      const headingTemplate = tablist.querySelector(':scope > span');
      if (headingTemplate) {
        const heading = document.createElement('span');
        heading.className = headingTemplate.className;
        heading.setAttribute(TAB_ATTR + '-heading', '');
        heading.textContent = text().group;
        tablist.append(heading);
      }
    }
    tablist.append(button);
  };

  /** Adds the tabs when the modal is open; true when the modal's structure was recognised. */
  const ensureTabs = () => {
    const nav = document.getElementById('settings-tabs-container');
    if (!(nav instanceof HTMLElement)) return false;
    const tablists = [...nav.querySelectorAll('[role="tablist"]')];
    const adminList = tablists.find((list) => list.querySelector('[role="tab"][aria-controls^="tab-admin-"]'));
    const personalList = tablists.find((list) => list !== adminList && list.querySelector('[role="tab"]'));
    if (!personalList) return false;
    if (!nav.hasAttribute('data-mai-usage-watch')) {
      nav.setAttribute('data-mai-usage-watch', '');
      // Any other tab hands the panel back to Open WebUI.
      nav.addEventListener(
        'click',
        (event) => {
          const tab = event.target instanceof Element ? event.target.closest('[role="tab"]') : null;
          if (tab && !tab.hasAttribute(TAB_ATTR)) deactivate();
        },
        true,
      );
    }
    if (adminList && !adminList.querySelector(`[${TAB_ATTR}="admin"]`)) makeTab('admin', adminList, nav);
    if (!personalList.querySelector(`[${TAB_ATTR}="user"]`)) makeTab('user', personalList, nav);
    if (active && !active.host.isConnected) active = null;
    if (deepLink) {
      const kind = deepLink === 'admin' && !adminList ? null : deepLink;
      deepLink = null;
      if (kind) activate(kind, nav);
    }
    return true;
  };

  // ---- Fallback: a floating entry when the modal is open but not recognised ----

  /** @type {HTMLElement | null} */
  let floating = null;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let fallbackTimer;

  const openOverlay = async () => {
    let kind = /** @type {'admin' | 'user'} */ ('user');
    try {
      const response = await fetch('/api/v1/auths/', {
        headers: { authorization: `Bearer ${localStorage.getItem('token') ?? ''}` },
      });
      if (response.ok && (await response.json()).role === 'admin') kind = 'admin';
    } catch {
      // Open WebUI unreachable: show the user view, which needs the least.
    }
    const dialog = document.createElement('dialog');
    dialog.setAttribute('data-mai-usage-overlay', '');
    dialog.setAttribute('aria-label', kind === 'admin' ? text().admin : text().user);
    dialog.style.cssText =
      'width:min(72rem,calc(100vw - 2rem));max-height:calc(100dvh - 2rem);padding:1rem;border:none;border-radius:1rem;' +
      (theme() === 'dark' ? 'background:#171717;color:#f3f4f6' : 'background:#fff;color:#111827');
    const close = document.createElement('button');
    close.type = 'button';
    close.textContent = '×';
    close.setAttribute('aria-label', text().close);
    close.style.cssText = 'float:right;font-size:1.25rem;background:none;border:none;color:inherit;cursor:pointer';
    close.addEventListener('click', () => dialog.close());
    const host = document.createElement('div');
    dialog.append(close, host);
    dialog.addEventListener('close', () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
    mount(host, kind);
  };

  const showFloating = () => {
    if (floating?.isConnected || !localStorage.getItem('token')) return;
    const button = document.createElement('button');
    floating = button;
    button.type = 'button';
    floating.setAttribute('data-mai-usage-floating', '');
    floating.textContent = text().admin;
    floating.style.cssText =
      'position:fixed;right:1rem;bottom:1rem;z-index:2147483000;padding:0.4rem 0.8rem;border-radius:999px;' +
      'border:1px solid rgba(128,128,128,.4);font:500 0.8rem system-ui,sans-serif;cursor:pointer;' +
      (theme() === 'dark' ? 'background:#262626;color:#f3f4f6' : 'background:#fff;color:#111827');
    floating.addEventListener('click', () => void openOverlay());
    document.body.append(floating);
  };

  const check = () => {
    try {
      if (ensureTabs()) {
        clearTimeout(fallbackTimer);
        fallbackTimer = undefined;
        floating?.remove();
        floating = null;
        return;
      }
      if (active && !active.host.isConnected) active = null;
      // A dialog is open (or settings were asked for) but it is not a modal we know.
      const expectingSettings =
        initialSettings !== null || document.querySelector('[role="dialog"]:not([data-mai-usage-overlay])');
      if (expectingSettings && !fallbackTimer && !floating) {
        fallbackTimer = setTimeout(() => {
          if (!document.getElementById('settings-tabs-container')) showFloating();
        }, FALLBACK_DELAY_MS);
      }
    } catch (error) {
      console.warn('mai-usage: loader check failed', error);
    }
  };

  let scheduled = false;
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      check();
    });
  };

  const start = () => {
    new MutationObserver(schedule).observe(document.body, { childList: true, subtree: true });
    // Follow Open WebUI's theme switch while a page is shown.
    new MutationObserver(() => {
      for (const element of document.querySelectorAll('mai-usage-dashboard, mai-my-usage'))
        element.setAttribute('theme', theme());
    }).observe(document.documentElement, { attributes: true, attributeFilter: ['class'] });
    check();
  };

  if (document.body) start();
  else document.addEventListener('DOMContentLoaded', start, { once: true });
})();
