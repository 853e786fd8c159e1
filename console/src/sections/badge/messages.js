// The section's own words, and each area's (their page names under `nav`).
import fleet from './fleet/messages.js'
import releases from './releases/messages.js'

const own = {
  'zh-Hant': { title: '電子工牌', summary: '工牌裝置群：在線狀態、日誌、告警、設定、韌體版本與灰度發佈。' },
  'zh-Hans': { title: '电子工牌', summary: '工牌设备群：在线状态、日志、告警、配置、固件版本与灰度发布。' },
  en: { title: 'Badges', summary: 'The badge fleet: who is online, logs, alerts, configs, firmware versions and rollouts.' },
}

export default Object.fromEntries(
  Object.entries(own).map(([code, words]) => [
    code,
    { ...fleet[code], ...releases[code], ...words, nav: { ...fleet[code].nav, ...releases[code].nav } },
  ]),
)
