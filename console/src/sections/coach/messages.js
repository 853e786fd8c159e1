export default {
  'zh-Hant': { title: '教練', summary: '支援用：使用者與他們的 AI 任務（狀態、供應商、token、錯誤）。', nav: {} },
  'zh-Hans': { title: '教练', summary: '支持用：用户与他们的 AI 任务（状态、供应商、token、错误）。', nav: {} },
  en: { title: 'Coach', summary: 'For support: the users and their AI tasks (status, provider, tokens, errors).', nav: {} },
}
