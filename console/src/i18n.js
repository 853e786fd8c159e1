// Three languages; a person's choice is remembered, otherwise a section's own language (the one
// its seed is written in) is used when entering it.
import en from 'element-plus/es/locale/lang/en'
import zhCn from 'element-plus/es/locale/lang/zh-cn'
import zhTw from 'element-plus/es/locale/lang/zh-tw'
import { computed } from 'vue'
import { createI18n } from 'vue-i18n'

import badge from './sections/badge/messages.js'
import coach from './sections/coach/messages.js'
import fitness from './sections/fitness/messages.js'
import queue from './sections/queue/messages.js'
import shop from './sections/shop/messages.js'

export const LOCALES = [
  { code: 'zh-Hant', label: '繁體中文', element: zhTw },
  { code: 'zh-Hans', label: '简体中文', element: zhCn },
  { code: 'en', label: 'English', element: en },
]

const common = {
  'zh-Hant': {
    console: 'keel 管理後台',
    sections: '功能區',
    noSections: '這台伺服器沒有提供任何已有管理頁面的應用。',
    configError: '無法讀取後台設定：{error}',
    open: '開啟',
    language: '語言',
    signIn: '登入',
    signOut: '登出',
    email: '電子郵件',
    password: '密碼',
    signInTitle: '{section} 管理員登入',
    notAdmin: '這個帳號不是管理員。',
    loading: '載入中…',
    empty: '沒有資料',
    create: '新增',
    edit: '編輯',
    delete: '刪除',
    save: '儲存',
    cancel: '取消',
    confirm: '確定',
    search: '搜尋',
    actions: '操作',
    saved: '已儲存',
    deleted: '已刪除',
    home: '首頁',
    notFound: '找不到這個頁面。',
  },
  'zh-Hans': {
    console: 'keel 管理后台',
    sections: '功能区',
    noSections: '这台服务器没有提供任何已有管理页面的应用。',
    configError: '无法读取后台配置：{error}',
    open: '打开',
    language: '语言',
    signIn: '登录',
    signOut: '退出',
    email: '电子邮箱',
    password: '密码',
    signInTitle: '{section} 管理员登录',
    notAdmin: '这个账号不是管理员。',
    loading: '加载中…',
    empty: '没有数据',
    create: '新建',
    edit: '编辑',
    delete: '删除',
    save: '保存',
    cancel: '取消',
    confirm: '确定',
    search: '搜索',
    actions: '操作',
    saved: '已保存',
    deleted: '已删除',
    home: '首页',
    notFound: '找不到这个页面。',
  },
  en: {
    console: 'keel console',
    sections: 'Sections',
    noSections: 'This server serves no app that has console pages.',
    configError: 'Could not read the console configuration: {error}',
    open: 'Open',
    language: 'Language',
    signIn: 'Sign in',
    signOut: 'Sign out',
    email: 'Email',
    password: 'Password',
    signInTitle: '{section} admin sign-in',
    notAdmin: 'This account is not an admin.',
    loading: 'Loading…',
    empty: 'No data',
    create: 'New',
    edit: 'Edit',
    delete: 'Delete',
    save: 'Save',
    cancel: 'Cancel',
    confirm: 'OK',
    search: 'Search',
    actions: 'Actions',
    saved: 'Saved',
    deleted: 'Deleted',
    home: 'Home',
    notFound: 'There is no such page.',
  },
}

const STORED = 'keel-console-locale'

const messages = Object.fromEntries(
  LOCALES.map(({ code }) => [code, {
    ...common[code],
    badge: badge[code],
    coach: coach[code],
    fitness: fitness[code],
    queue: queue[code],
    shop: shop[code],
  }]),
)

export const i18n = createI18n({
  legacy: false,
  locale: localStorage.getItem(STORED) || 'zh-Hant',
  fallbackLocale: 'en',
  messages,
})

export const elementLocale = computed(
  () => LOCALES.find(({ code }) => code === i18n.global.locale.value)?.element ?? en,
)

export function chooseLocale(code) {
  localStorage.setItem(STORED, code)
  setLocale(code)
}

// A section's own language, unless the person has chosen one.
export function sectionLocale(code) {
  if (!localStorage.getItem(STORED)) setLocale(code)
}

function setLocale(code) {
  i18n.global.locale.value = code
  document.documentElement.lang = code
}
