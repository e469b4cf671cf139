from django.contrib import admin

from .models import AnalysisResult, Job, Track


@admin.register(Track)
class TrackAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "format", "duration", "created")
    search_fields = ("title", "original_name", "sha256")


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("uuid", "track", "kind", "status", "progress", "stage", "created")
    list_filter = ("kind", "status")


@admin.register(AnalysisResult)
class AnalysisResultAdmin(admin.ModelAdmin):
    list_display = ("track", "analyzer_version", "created")
