"""The admin site's names; the portal's pages are in portal.views, the models' pages in each app's admin.py."""

from django.contrib import admin

admin.site.site_header = "GridTokenX operator portal"
admin.site.site_title = "GridTokenX operator portal"
admin.site.index_title = "Exchange administration"
