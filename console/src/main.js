import 'element-plus/dist/index.css'
import './style.css'

import ElementPlus from 'element-plus'
import { createApp } from 'vue'

import App from './App.vue'
import { loadConfig } from './config.js'
import { i18n } from './i18n.js'
import { createConsoleRouter } from './router.js'

// The server says which apps it serves and at which prefix before any page is drawn, so the
// navigation and every API call agree with `keel serve` and `keel serve --app X` alike.
loadConfig().then((config) => {
  createApp(App).use(ElementPlus).use(i18n).use(createConsoleRouter(config)).mount('#app')
})
