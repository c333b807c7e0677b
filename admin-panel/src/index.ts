/**
 * The panel bundle: importing it registers every mai-* element. The loader imports it from the
 * sidecar and mounts <mai-usage-dashboard> / <mai-my-usage>; the sidecar's own page mounts
 * <mai-operator-page>.
 */
export { MaiUsageDashboard } from './components/usage-dashboard/usage-dashboard.js';
export { MaiMyUsage } from './components/my-usage/my-usage.js';
export { MaiOperatorPage } from './components/operator-page/operator-page.js';
export { MaiDataTable } from './components/data-table/data-table.js';
export { MaiExportForm } from './components/export-form/export-form.js';
export { MaiLimitBanner } from './components/limit-banner/limit-banner.js';
export { MaiOrgSettings } from './components/org-settings/org-settings.js';
export { MaiRateNote } from './components/rate-note/rate-note.js';
export { MaiStatCard } from './components/stat-card/stat-card.js';
export { MaiTabs } from './components/tabs/tabs.js';
export { MaiTrendChart } from './components/trend-chart/trend-chart.js';
export { formatPln, formatUsdNano, formatUsdWithPln } from './lib/format.js';
